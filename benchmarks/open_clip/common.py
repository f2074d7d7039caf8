"""What the open_clip benchmarks share: the tiny model config, results.json sections, the command line.

>>> sorted(TINY_MODEL)
['embed_dim', 'text_cfg', 'vision_cfg']
"""

import json
import os
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.path.join(HERE, "results.json")

# A tiny CLIP for open_clip.create_model (no pretrained weights): a 2-block ViT on 28 x 28 images (7 x 7
# patches) and a 2-block text transformer over open_clip's BPE vocabulary, 16 tokens of context.
TINY_MODEL_NAME = "rpc-tiny-clip"
TINY_MODEL = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 28, "layers": 2, "width": 64, "head_width": 32, "patch_size": 7},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def register_tiny_model(folder):
    """Write the tiny config as <folder>/rpc-tiny-clip.json and register it with open_clip."""
    import open_clip

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{TINY_MODEL_NAME}.json")
    with open(path, "w") as f:
        json.dump(TINY_MODEL, f, indent=1)
    open_clip.add_model_config(path)
    return path


def command_line():
    """This process's command, as a reader would type it from the repository root."""
    script = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
    return " ".join(["python", shlex.quote(script)] + [shlex.quote(a) for a in sys.argv[1:]])


def read_results(path=RESULTS):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def write_section(name, section, path=RESULTS):
    """Replace section ``name`` of results.json (the other sections stay)."""
    sys.path.insert(0, ROOT)
    from benchmarks.harness.rows import write_json

    data = read_results(path)
    data[name] = section
    write_json(path, data)
