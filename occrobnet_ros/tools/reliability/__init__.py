"""Reliability tooling for the occrobnet_pose node (issue #8).

- :mod:`.hostile_messages`: hypothesis strategies for malformed Image, CompressedImage and
  CameraInfo messages;
- :mod:`.fuzz`: those messages through the node's input path in-process and through a live
  node (``occrobnet fuzz``);
- :mod:`.soak`: a camera stream at a fixed rate against a node process, with RSS over time,
  latency percentiles and frame accounting (``occrobnet soak``);
- :mod:`.accounting` and :mod:`.node_process`: the node's counters read from /diagnostics, and
  a node process driven from this process.

docs/reliability.md has the figures and how to run them.
"""
