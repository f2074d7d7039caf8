"""The generated flite corpus: fairseq's manifest format, 16 kHz audio, phone times on the audio's time axis."""

import json
import os

import soundfile as sf


def test_manifest_matches_audio(speech_corpus):
    for split in ("train", "valid"):
        lines = open(os.path.join(speech_corpus, f"{split}.tsv")).read().splitlines()
        assert lines[0] == os.path.abspath(speech_corpus)
        assert len(lines) > 1
        for line in lines[1:]:
            rel, n = line.split("\t")
            info = sf.info(os.path.join(lines[0], rel))
            assert info.samplerate == 16000 and info.channels == 1 and info.frames == int(n)


def test_labels_cover_speakers_and_phone_times(speech_corpus):
    records = [json.loads(line) for line in open(os.path.join(speech_corpus, "labels.jsonl"))]
    assert {r["speaker"] for r in records} == {"slt", "rms", "awb"}
    for r in records:
        ends = [end for _, end in r["phones"]]
        assert ends == sorted(ends) and r["phones"][0][0] == "pau"
        # flite -psdur prints end times on the (stretched) audio's time axis: the last one is the file's end
        assert abs(ends[-1] - r["n_samples"] / 16000) < 0.02, (r["path"], ends[-1], r["n_samples"])
        assert len(r["text"].split()) >= 2
