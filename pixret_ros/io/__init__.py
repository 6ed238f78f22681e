"""Image and bag I/O without ROS: the image codec, rosbag2 reading and writing, frame folders.

Shared by the node (live) and the evaluator (offline) so both read the same pixels; pure
Python on rosbags + OpenCV, importable where no ROS is installed.
"""
