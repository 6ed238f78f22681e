"""The ROS 2 face of pixret: node, message conversion, service client CLI."""
