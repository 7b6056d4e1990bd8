"""Rosbag replay evaluation (issue #7): datasets -> bags, bags -> OccRobNet -> report.

convert.py writes frame sources (sources.py) to bags; replay.py runs a bag's frames through the
estimator offline and live.py plays a bag into the running node; report.py scores both against
the ground-truth topic; io.py reads and writes the bags with rosbags; bag_eval.py is the
``occrobnet bag-eval`` command.
"""
