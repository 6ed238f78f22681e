"""The demo data set, made from scikit-image's photos, and `make demo`'s live replay.

`photos` cuts instances and backgrounds from the photos, `shots` scripts five moving shots,
`scenes` composes their frames, `build` renders the bag, gallery and ground truth
(`pixret-eval make-demo`, parser in `cli`), `live` runs pixret_node on it over DDS and
records what it publishes. Layering: engine <- io <- demo <- evaluation: the demo uses the
engine and the bag writer; the evaluator's CLI offers `make-demo`; the demo runs
`pixret-eval` only as a process, never by import.
"""
