"""Stand-in for ``PY -m a4mer segment IN.npz -o OUT.json --progress-jsonl`` (runner plumbing tests).

Behaviour from env A4MER_FAKE_WORKER: "ok" (progress lines, then evenly spaced segments), "slow"
(one progress line, then sleeps: for cancelling), "fail" (a message on stderr, exit code 3), "bad progress"
(progress lines that are not numbers, then as "ok"), "list" (a JSON list as the result), "silent" (exit 0,
no result)."""
import json
import os
import sys
import time

import numpy as np

args = sys.argv[sys.argv.index("segment") + 1:]
src, out = args[0], args[args.index("-o") + 1]
mode = os.environ.get("A4MER_FAKE_WORKER", "ok")
with open(os.environ.get("A4MER_FAKE_ARGS", os.devnull), "w") as f:
    json.dump(sys.argv[1:], f)
print("a line that is not JSON", flush=True)
if mode == "fail":  # written as a Windows Python writes it: the ANSI code page unless PYTHONUTF8=1
    enc = "utf-8" if os.environ.get("PYTHONUTF8") == "1" else "cp1250"  # Polish Windows
    sys.stderr.buffer.write("a4mer segment: error: boom: bad checkpoint C:\\Users\\Łukasz\\m.safetensors\n".encode(enc))
    sys.exit(3)
if mode == "silent":
    sys.exit(0)
if mode == "list":
    with open(out, "w") as f:
        json.dump([1, 2], f)
    sys.exit(0)
if mode == "bad progress":
    for bad in ("half", None, [0.5]):
        print(json.dumps({"progress": bad, "message": "odd"}), flush=True)
print(json.dumps({"progress": 0.2, "message": "loading model"}), flush=True)
if mode == "model":  # run the stand-in model on the clip, like `a4mer segment` runs the real one
    from a4mer.io import read_amass_npz
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the worker runs with PYTHONSAFEPATH=1
    from fake_model import A4Mer
    vocab = args[args.index("--vocab") + 1] if "--vocab" in args else None
    result = A4Mer.load(None, vocab=vocab).segment(read_amass_npz(src))
    with open(out, "w") as f:
        json.dump(result, f)
    sys.exit(0)
if mode == "slow":
    time.sleep(120)
with np.load(src) as z:
    T, fps = len(z["poses"]), float(z["mocap_frame_rate"])
atoms = [{"start_frame": s, "end_frame": min(T, s + 5), "start_t": s / fps, "end_t": min(T, s + 5) / fps,
          "code": s % 3} for s in range(0, T, 5)]
motifs = [{"start_frame": a["start_frame"], "end_frame": atoms[min(len(atoms) - 1, i + 1)]["end_frame"],
           "start_t": a["start_t"], "end_t": atoms[min(len(atoms) - 1, i + 1)]["end_t"], "motif_id": i % 2,
           "atoms": [i, i + 1], "confidence": 1.0}
          for i, a in enumerate(atoms) if i % 2 == 0]
print(json.dumps({"progress": 0.7, "message": "segmenting"}), flush=True)
with open(out, "w") as f:
    json.dump({"schema_version": 1, "model_hash": "fake", "vocab_hash": "fake", "fps": fps, "duration": T / fps,
               "atoms": atoms, "motifs": motifs}, f)
print(json.dumps({"progress": 1.0, "message": "done"}), flush=True)
