"""How long encoding every NTU RGB+D 120 description takes, cold and from the cache.

    python scripts/bench_text.py [--encoder minilm] [--device cpu] [--threads 2]

"Cold" starts from an empty cache folder and includes loading the encoder; "cached" reads the
same texts back from that folder. Two sets of texts of the project's NTU 120 descriptions: the 120
class descriptions, and every per-class text the methods read (label, description, synonyms, the six
parts and their 2/4-part joins, the PURLS parts, the phases, the context and the variants), with
duplicates removed.
"""
from __future__ import annotations

import argparse
import tempfile
import time


def ntu120_texts() -> dict[str, list[str]]:
    from zssar.classnames import NTU120_CLASSES
    from zssar.text.descriptions import text_bank_for
    from zssar.text.schema import field_names

    bank = text_bank_for("ntu120", NTU120_CLASSES)
    every = [s for f in field_names() for s in bank.strings(f)]
    every += [v for i in range(len(bank)) for v in bank.variants(i)]
    return {"descriptions": bank.strings("description"), "every field": list(dict.fromkeys(every))}


def bench(name: str, device: str, texts: list[str]) -> tuple[float, float]:
    """Seconds to encode ``texts`` into an empty cache (with loading the encoder), then from it."""
    from zssar.text.encoders import CachedEncoder, get_encoder

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        cold_vectors = CachedEncoder(get_encoder(name, device=device), cache).encode(texts)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        cached_vectors = CachedEncoder(get_encoder(name, device=device), cache).encode(texts)
        cached = time.perf_counter() - start
    assert (cold_vectors == cached_vectors).all(), "the cache gave back different vectors"
    return cold, cached


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (the bar is for 2 cores)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"encoder {args.encoder} on {args.device} with {args.threads} threads (bars: cold < 60 s, cached < 1 s)")
    for label, texts in ntu120_texts().items():
        cold, cached = bench(args.encoder, args.device, texts)
        print(f"NTU-120 {label:<12} {len(texts):>5} texts: cold {cold:6.1f} s, cached {cached:5.2f} s")


if __name__ == "__main__":
    main()
