"""Every parameter of pixret_ros in one place: names, descriptions, ranges, YAML reading.

ROS-free, so that the node (pixret_ros/ros/params.py declares these to ROS), the evaluator
(`pixret-eval run --params-file`) and the tools read one table and one parser:
- `spec`: what one parameter is (`ParamSpec`) and how a value is checked against it;
- `node_params`: the node's own parameters (gallery, QoS, diagnostics, ...);
- `engine_params`: one fixed `engine.*` parameter per engine setting, `engine.segmenter.*`
  for the segmenter's, with their descriptions and ranges, and the `EngineConfig` they build;
- `params_file`: a node params file (YAML) and `KEY=VALUE` overrides as engine settings.
"""
