"""Inference: the streaming estimator (image + K -> Prediction) and its smoothing filter.

No ROS here; the node (ros/node.py) wraps :class:`.estimator.Estimator`.
"""
