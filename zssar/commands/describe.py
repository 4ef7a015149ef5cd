"""``zssar describe``: write a description file for class names with a language model."""
from __future__ import annotations

NAME = "describe"
HELP = "generate a schema-valid description file for class names with an LLM (chat endpoint or local model)"


def add_arguments(p) -> None:
    p.add_argument("--names", default=None, help="class names separated by ';'")
    p.add_argument("--names-file", default=None, help="a text file with one class name a line")
    p.add_argument("--dataset", default=None, help="describe the classes of this dataset (and name the file so)")
    p.add_argument("--out", required=True, help="the JSON file to write")
    p.add_argument("--backend", default="chat", choices=("chat", "local"))
    p.add_argument("--url", default=None, help="chat endpoint base URL (default: $ZSSAR_LLM_URL), e.g. "
                   "http://localhost:8000/v1")
    p.add_argument("--model", default=None, help="model name at the endpoint (default: $ZSSAR_LLM_MODEL)")
    p.add_argument("--model-path", default=None, help="local transformers causal LM folder (--backend local)")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-new-tokens", type=int, default=None, help="the longest answer in tokens "
                   "(default: 1500 for a local model, 2000 at an endpoint)")
    p.add_argument("--attempts", type=int, default=3, help="how often to ask again when an answer does not "
                   "validate; described classes are kept in OUT.partial when a class fails, and a new run "
                   "with the same --out continues from there")


def _names(args) -> list[str]:
    from pathlib import Path

    from ..errors import InvalidConfig

    if args.names:
        return [n.strip() for n in args.names.split(";") if n.strip()]
    if args.names_file:
        return [n.strip() for n in Path(args.names_file).read_text().splitlines() if n.strip()]
    if args.dataset:
        from .text import _classes

        _, names = _classes(args.dataset)
        if names:
            return names
    raise InvalidConfig("which classes? pass --names 'a;b', --names-file FILE or --dataset NAME")


def main(args) -> dict:
    from pathlib import Path

    from ..text.describe import describe_to_file
    from ..text.descriptions import load_description_file
    from ..text.llm import make_backend

    names = _names(args)
    backend = make_backend(args.backend, url=args.url, model=args.model, path=args.model_path,
                           temperature=args.temperature, max_new_tokens=args.max_new_tokens)
    out = Path(args.out)
    described = describe_to_file(names, backend, out, dataset=args.dataset or "custom", attempts=args.attempts)
    load_description_file(out)  # what was written reads back as a complete, valid file
    return {"out": str(out), "classes": len(described), "source": described.source}
