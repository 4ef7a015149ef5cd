"""``zssar describe`` against a chat-completions server on loopback, and the papers' prompts."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from zssar.cli import main as cli_main
from zssar.errors import CheckpointNotFound, InvalidConfig, InvalidData
from zssar.text.describe import describe_classes, parse_reply
from zssar.text.descriptions import load_description_file, text_bank_for
from zssar.text.llm import ChatEndpoint, LLMError, LocalCausalLM
from zssar.text.prompts import PAPER_PROMPTS, schema_request


def _answer(action: str) -> dict:
    """What a well-behaved model would answer: every field filled, about the action."""
    return {"label": action, "synonyms": [f"{action} quickly", f"{action} slowly"],
            "description": f"A person does {action} with the whole body.",
            "parts": {k: f"the {k} moves for {action}" for k in ("head", "hand", "arm", "hip", "leg", "foot")},
            "purls_parts": {k: f"the {k} would {action}" for k in ("head", "hands", "torso", "legs")},
            "phases": {k: f"{k} of {action}" for k in ("start", "middle", "end")},
            "context": {"environment": "a room", "used_object": "none", "target_object": "none"},
            "context_sentence": f"In a room, hand uses nothing to {action}.",
            "contexts": [{"environment": f"place {i}", "used_object": "none", "target_object": f"target {i}"}
                         for i in range(10)],
            "key_parts": ["hand", "arm"],
            "variants": [f"{action} one way", f"{action} another way"]}


class _ChatServer(BaseHTTPRequestHandler):
    requests: list = []
    broken_first: set = set()  # actions whose first answer leaves out a field
    few_contexts_first: set = set()  # actions whose first answer gives too few context triples

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, self.headers.get("Authorization"), body))
        if self.path != "/v1/chat/completions" or body.get("model") != "tiny":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error": "no such model"}')
            return
        action = re.search(r'Action: "([^"]+)"', body["messages"][1]["content"]).group(1)
        entry = _answer(action)
        if action in self.broken_first and len(body["messages"]) == 2:
            del entry["phases"]
        if action in self.few_contexts_first and len(body["messages"]) == 2:
            entry["contexts"] = entry["contexts"][:3] + entry["contexts"][:3]  # 3 different, repeated
        content = "Here it is:\n```json\n" + json.dumps(entry) + "\n```"
        reply = json.dumps({"id": "x", "object": "chat.completion", "model": "tiny",
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _ChatServer.requests, _ChatServer.broken_first, _ChatServer.few_contexts_first = [], set(), set()
    httpd = HTTPServer(("127.0.0.1", 0), _ChatServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_describe_command_writes_a_schema_valid_file(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ZSSAR_LLM_API_KEY", "secret-for-test")
    out = tmp_path / "mine.json"
    assert cli_main(["describe", "--names", "lift box;wave", "--url", server, "--model", "tiny",
                     "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == 2
    described = load_description_file(out)
    assert described.labels() == ["lift box", "wave"] and "tiny" in described.source
    path, auth, body = _ChatServer.requests[0]
    assert auth == "Bearer secret-for-test" and body["messages"][0]["role"] == "system"
    bank = text_bank_for("my-lab", ["wave", "lift box"], path=out)
    assert bank.strings("phases.end") == ["end of wave", "end of lift box"]


def test_invalid_answer_is_asked_again(server):
    _ChatServer.broken_first = {"wave"}
    described = describe_classes(["wave"], ChatEndpoint(server, "tiny"))
    assert described.classes[0].phases["middle"] == "middle of wave"
    retry = _ChatServer.requests[-1][2]["messages"]
    assert len(retry) == 4 and "phases" in retry[-1]["content"]


def test_too_few_context_triples_are_asked_again(server):
    _ChatServer.few_contexts_first = {"wave"}
    described = describe_classes(["wave"], ChatEndpoint(server, "tiny"))
    entry = described.classes[0]
    assert len(entry.contexts) == 10 and entry.key_parts == ("hand", "arm")
    retry = _ChatServer.requests[-1][2]["messages"]
    assert len(retry) == 4 and "3 different context triple(s)" in retry[-1]["content"]


def test_parse_reply_checks_contexts_and_key_parts():
    answer = _answer("wave")
    many = dict(answer, contexts=answer["contexts"] + [{"environment": "extra", "used_object": "none",
                                                        "target_object": "x"}] * 3)
    assert len(parse_reply(json.dumps(many), "wave").contexts) == 10  # the first ten are kept
    for broken, message in ((dict(answer, key_parts=["wing"]), "unknown part"),
                            (dict(answer, key_parts=[]), "key_parts"),
                            (dict(answer, contexts=answer["contexts"][:9]), "9 different context")):
        with pytest.raises(InvalidData, match=message):
            parse_reply(json.dumps(broken), "wave")


def test_endpoint_errors_are_clear(server):
    with pytest.raises(LLMError, match="HTTP 404"):
        ChatEndpoint(server, "other-model").chat([{"role": "user", "content": "hi"}])
    with pytest.raises(LLMError, match="cannot reach"):
        ChatEndpoint("http://127.0.0.1:9/v1", "tiny", timeout=5).chat([{"role": "user", "content": "hi"}])


def test_backend_configuration_errors(monkeypatch, tmp_path):
    monkeypatch.delenv("ZSSAR_LLM_URL", raising=False)
    with pytest.raises(InvalidConfig, match="ZSSAR_LLM_URL"):
        ChatEndpoint(model="tiny")
    with pytest.raises(CheckpointNotFound, match="config.json"):
        LocalCausalLM(tmp_path)


def test_parse_reply_takes_json_from_prose_and_overrides_the_label():
    entry = parse_reply("Sure! " + json.dumps(_answer("wave")) + " Hope it helps.", "wave hand")
    assert entry.label == "wave hand" and entry.context["environment"] == "a room"


def test_schema_request_carries_the_papers_questions():
    text = schema_request("put on a shoe")[1]["content"]
    assert 'Describe a person "put on a shoe" in details.' in text  # GAP, Figure 5
    assert 'Suggest 10 synonyms for "put on a shoe"' in text
    assert "Separate the motion of put on a shoe into three phases." in text  # PURLS
    assert "in the form of In environment, body part uses object" in text  # SkeletonContext
    assert "give 10 different contexts of put on a shoe" in text and "which body parts carry put on a shoe?" in text
    star = PAPER_PROMPTS["star-part"].format("drink water", part="head")
    assert star == "please describe the [head] actions simply when people [drink water]"
