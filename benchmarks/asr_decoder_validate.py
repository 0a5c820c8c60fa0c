"""Validation of the asr decoder's beam and word-bigram weights, never on the reserved flite sets
(docs/speech.md).

    python benchmarks/asr_decoder_validate.py RUN MANIFEST [--grid W:C:B ...]

RUN: a run trained without one engine (``leave_out_engine=festival``); MANIFEST: that engine's utterances
(``$APPS_HOME/data/asr/espeak-commands/valid-festival.jsonl``). The model runs once; each setting
(bigram weight W, word bonus C, beam B; W=0 is the lexicon alone) decodes the same log-probabilities.
A run of an earlier version without ``word_bigrams.txt`` gets them from the corpus rows it trained on.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEFAULT_GRID = ["0:0:8", "0.5:1:8", "0.8:1:16", "0.8:1:32", "0.8:1:64", "0.8:2:64", "1.2:2:64"]


def main() -> None:
    from plugins.asr_tts.asr_model import Transcriber, error_rates
    from plugins.asr_tts.audio import load_audio
    from plugins.asr_tts.lexicon import BIGRAM_FILE, Lexicon, lexicon_beam_search

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run")
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--grid", nargs="+", default=DEFAULT_GRID, help="W:C:B settings to decode with")
    args = parser.parse_args()
    run = Path(args.run)
    if not (run / BIGRAM_FILE).is_file():
        import yaml

        left_out = yaml.safe_load((run / "recipe.yaml").read_text()).get("leave_out_engine")
        train = args.manifest.parent / "train.jsonl"
        rows = [json.loads(line) for line in train.read_text().splitlines()]
        lexicon = Lexicon.from_texts(r["text"] for r in rows if r.get("engine") != left_out)
        if lexicon.words != Lexicon.load(run).words:
            raise SystemExit(f"{train} is not the corpus {run} trained on (its words differ)")
        lexicon.save(run)
    rows = [json.loads(line) for line in args.manifest.read_text().splitlines()]
    transcriber = Transcriber.load(run, "cpu", decoder="lm")
    waves = [load_audio(args.manifest.parent / row["audio_filepath"]) for row in rows]
    log_probs, lengths = transcriber.log_probs(waves)
    blank, references = transcriber.model.config.pad_token_id, [row["text"] for row in rows]
    print(f"{len(rows)} utterances of {args.manifest}, run {run}")
    for setting in args.grid:
        weight, bonus, beam = (float(x) for x in setting.split(":"))
        began = time.process_time()
        hypotheses = [
            lexicon_beam_search(
                lp[: int(n)],
                transcriber.vocab.tokens,
                blank,
                transcriber.lexicon,
                int(beam),
                lm_weight=weight,
                word_bonus=bonus,
            )
            for lp, n in zip(log_probs, lengths, strict=True)
        ]
        ms = 1000 * (time.process_time() - began) / len(rows)
        rates = error_rates(references, hypotheses)
        print(f"weight {weight:<4g} bonus {bonus:<3g} beam {int(beam):<3} WER {100 * rates['wer']:5.1f} % CER {100 * rates['cer']:5.1f} %  {ms:.0f} ms/utt")  # fmt: skip


if __name__ == "__main__":
    main()
