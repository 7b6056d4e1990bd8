"""Inference: the streaming estimator (image + K -> Prediction) and the stages it runs in
order: preprocess (crop warp), the network, decode (to metres in the camera frame), smoothing
and track ids.

No ROS here; the node (ros/node.py) wraps :class:`.estimator.Estimator`.
"""
