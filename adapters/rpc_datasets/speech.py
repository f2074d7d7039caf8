"""A small labelled speech corpus from Debian's ``flite``, host-independent (fairseq, transformers).

Spoken digit strings from several voices with random speaking rate and pitch plus additive noise
(clean synthetic speech is too easy), saved as 16 kHz mono wav files with:

* ``train.tsv`` / ``valid.tsv``: fairseq's manifest (root directory, then ``relpath<TAB>n_samples``),
  as ``examples/wav2vec/wav2vec_manifest.py`` writes it (other hosts read ``labels.jsonl``);
* ``labels.jsonl``: per file the text, the speaker (voice) and the phones with end times in
  seconds from ``flite -psdur`` (flite prints them on the stretched time axis of the audio).

    python -m rpc_datasets.speech --out data/speech --utterances 200

(``rpc_fairseq.speech_data`` re-exports this module for the fairseq commands written before it moved.)

>>> VOICES
('slt', 'rms', 'awb')
"""

import argparse
import json
import os
import random
import subprocess
import tempfile

import numpy as np

VOICES = ("slt", "rms", "awb")  # 16 kHz voices whose phone end times match the audio
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SAMPLE_RATE = 16000


def synthesise(text, voice, stretch, pitch, path):
    """Run flite; return [(phone, end_seconds), ...] as it prints them."""
    out = subprocess.run(
        [
            "flite",
            "-voice",
            voice,
            "-psdur",
            "--setf",
            f"duration_stretch={stretch:.3f}",
            "--setf",
            f"int_f0_target_mean={pitch:.0f}",
            "-t",
            text,
            "-o",
            path,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    phones = []
    for item in out.split():
        name, _, end = item.rpartition(":")
        phones.append((name, float(end)))
    return phones


def add_noise(path, snr_db, rng):
    import soundfile as sf

    audio, rate = sf.read(path, dtype="float32")
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: expected {SAMPLE_RATE} Hz audio from flite, got {rate}")
    power = float(np.mean(audio**2)) + 1e-12
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), size=audio.shape).astype(np.float32)
    sf.write(path, np.clip(audio + noise, -1, 1), SAMPLE_RATE, subtype="PCM_16")
    return len(audio)


def generate(out_dir, utterances=200, valid_fraction=0.2, seed=0, words_per_utterance=(2, 4)):
    """Write the corpus into ``out_dir`` and return the list of label records."""
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    wav_dir = os.path.join(out_dir, "wav")
    os.makedirs(wav_dir, exist_ok=True)
    records = []
    for i in range(utterances):
        voice = VOICES[i % len(VOICES)]
        text = " ".join(pick.choice(WORDS) for _ in range(pick.randint(*words_per_utterance)))
        stretch, pitch = pick.uniform(0.8, 1.3), pick.uniform(90, 190)
        rel = os.path.join("wav", f"utt{i:05d}_{voice}.wav")
        path = os.path.join(out_dir, rel)
        phones = synthesise(text, voice, stretch, pitch, path)
        n_samples = add_noise(path, snr_db=pick.uniform(10, 25), rng=rng)
        records.append(
            {
                "path": rel,
                "n_samples": n_samples,
                "text": text,
                "speaker": voice,
                "phones": phones,
                "split": "valid" if pick.random() < valid_fraction else "train",
            }
        )
    for split in ("train", "valid"):
        with open(os.path.join(out_dir, f"{split}.tsv"), "w") as f:
            f.write(os.path.abspath(out_dir) + "\n")
            for r in records:
                if r["split"] == split:
                    f.write(f"{r['path']}\t{r['n_samples']}\n")
    with open(os.path.join(out_dir, "labels.jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "rpc_speech"))
    parser.add_argument("--utterances", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    records = generate(args.out, args.utterances, seed=args.seed)
    seconds = sum(r["n_samples"] for r in records) / SAMPLE_RATE
    print(f"wrote {len(records)} utterances ({seconds:.0f} s of audio) to {args.out}")


if __name__ == "__main__":
    main()
