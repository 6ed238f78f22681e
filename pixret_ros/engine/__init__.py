"""ROS-free pixel retrieval engine."""
