"""LLM head-pose backends against a real HTTP server on 127.0.0.1 and a tiny local transformers model."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from x3dtalker_core.cli import main
from x3dtalker_core.control.cues import AudioCues
from x3dtalker_core.control.llm import (
    LLMError,
    OpenAIChatClient,
    TransformersChatBackend,
    build_messages,
    parse_pose_reply,
    pose_from_llm,
)
from x3dtalker_core.control.pose import PoseLimits, PoseTrajectory

GOOD = {"pitch": "3*beat(t) + 1", "yaw": "8*sin(2*pi*0.2*t)", "roll": "2*cos(2*pi*0.1*t)*env(t)"}
MALICIOUS = {"pitch": "__import__('os').system('touch PWNED')", "yaw": "t.__class__.__mro__", "roll": "1"}


def chat_body(content: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()


class Handler(BaseHTTPRequestHandler):
    """Routes by the first path segment: /good, /malicious, /nonjson, /huge, /hugestream, /error, /slow, /fenced."""

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length))
        self.server.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": request})
        kind = self.path.strip("/").split("/")[0]
        if kind == "error":
            self._send(500, b'{"error": "model crashed"}')
        elif kind == "slow":  # answers only once the test releases it (never within the client's timeout)
            self.server.release_slow.wait(30.0)
            self.server.slow_replies += 1
            self._send(200, chat_body(json.dumps(GOOD)))
        elif kind == "nonjson":
            self._send(200, b"<html>this is not the API you are looking for</html>", "text/html")
        elif kind == "huge":
            self._send(200, b" " * (10 * 1024 * 1024))
        elif kind == "hugestream":  # no Content-Length: the client must stop reading by itself
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for _ in range(160):
                    self.wfile.write(b" " * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif kind == "malicious":
            self._send(200, chat_body("Sure! ```json\n" + json.dumps(MALICIOUS) + "\n```"))
        elif kind == "fenced":
            self._send(200, chat_body("Here you go:\n```json\n" + json.dumps(GOOD) + "\n```\nEnjoy."))
        else:
            self._send(200, chat_body(json.dumps(GOOD)))

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.seen = []
    httpd.release_slow = threading.Event()
    httpd.slow_replies = 0
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.release_slow.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cues():
    t = np.arange(100) / 25
    return AudioCues.from_amplitude(0.1 + 0.1 * np.abs(np.sin(2 * np.pi * 2 * t)))


def client(server, kind: str, **kw) -> OpenAIChatClient:
    return OpenAIChatClient(f"http://127.0.0.1:{server.server_port}/{kind}/v1", "tiny-test-model", **kw)


def test_good_reply(server, cues, tmp_path, monkeypatch):
    monkeypatch.setenv("X3D_TEST_KEY", "sk-secret-123")
    c = client(server, "good", api_key_env="X3D_TEST_KEY")
    traj = pose_from_llm("calm but confident", cues, c, seed=1, cache_dir=tmp_path, on_error="fail")
    req = server.seen[-1]
    assert req["path"] == "/good/v1/chat/completions" and req["auth"] == "Bearer sk-secret-123"
    assert req["body"]["model"] == "tiny-test-model" and req["body"]["seed"] == 1
    assert "calm but confident" in req["body"]["messages"][1]["content"]
    assert traj.metadata["source"] == "llm" and traj.metadata["expressions"]["yaw"] == GOOD["yaw"]
    assert "warning" not in traj.metadata
    # The key is never stored: not in metadata, repr, nor the saved file.
    path = traj.save(tmp_path / "t.npz")
    assert b"sk-secret" not in path.read_bytes() and "sk-secret" not in repr(c) + json.dumps(traj.metadata)
    deg = traj.degrees
    lim = PoseLimits()
    assert np.all(np.abs(deg) <= lim.angle_limits_deg + 1e-9) and np.abs(deg[:, 1]).max() > 5
    assert np.abs(np.diff(deg, axis=0)).max() <= lim.max_speed_deg_s / 25 + 1e-9


def test_reply_cache(server, cues, tmp_path):
    c = client(server, "fenced")
    n0 = len(server.seen)
    a = pose_from_llm("energetic", cues, c, seed=5, cache_dir=tmp_path, on_error="fail")
    b = pose_from_llm("energetic", cues, c, seed=5, cache_dir=tmp_path, on_error="fail")
    assert len(server.seen) == n0 + 1 and b.metadata["cached"] and not a.metadata["cached"]
    np.testing.assert_array_equal(a.angles, b.angles)
    pose_from_llm("energetic", cues, c, seed=6, cache_dir=tmp_path, on_error="fail")
    assert len(server.seen) == n0 + 2  # another seed is another request


def test_malicious_reply_is_rejected(server, cues, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LLMError, match="unusable"):
        pose_from_llm("x", cues, client(server, "malicious"), cache_dir=None, on_error="fail")
    traj = pose_from_llm("x", cues, client(server, "malicious"), cache_dir=tmp_path, on_error="fallback",
                         fallback_preset="gentle_sway")
    assert traj.metadata["preset"] == "gentle_sway" and "unusable" in traj.metadata["warning"]
    assert not (tmp_path / "PWNED").exists()
    assert not list(tmp_path.glob("*.json"))  # unusable replies are not cached


@pytest.mark.parametrize(
    "kind, message",
    [
        ("nonjson", "not JSON"),
        ("huge", "limit"),
        ("hugestream", "more than"),
        ("error", "HTTP 500"),
        ("slow", "within"),
    ],
)
def test_bad_endpoints(server, cues, kind, message):
    c = client(server, kind, timeout_s=0.5, max_reply_bytes=1_000_000)
    with pytest.raises(LLMError, match=message):
        pose_from_llm("calm", cues, c, cache_dir=None, on_error="fail")
    assert server.slow_replies == 0  # the client gave up before the slow server ever replied
    traj = pose_from_llm("calm", cues, c, cache_dir=None, on_error="fallback")
    assert traj.metadata["preset"] == "calm" and message.split()[0] in traj.metadata["warning"]


def test_unreachable_and_bad_settings(cues):
    with pytest.raises(LLMError, match="cannot reach|failed"):
        OpenAIChatClient("http://127.0.0.1:9/v1", "m", timeout_s=2).complete(build_messages("calm", cues))
    with pytest.raises(Exception, match="http"):
        OpenAIChatClient("file:///etc/passwd", "m")
    with pytest.raises(Exception, match="empty"):
        build_messages("   ", cues)


def test_reply_parsing():
    assert parse_pose_reply('blah {"Pitch": 2, "yaw": "t"} tail') == {"pitch": "2", "yaw": "t"}
    with pytest.raises(LLMError, match="no JSON"):
        parse_pose_reply("I cannot help with that.")
    with pytest.raises(LLMError, match="none of"):
        parse_pose_reply('{"nod": "1"}')
    with pytest.raises(LLMError, match="string"):
        parse_pose_reply('{"pitch": {"__class__": 1}}')
    with pytest.raises(LLMError, match="characters"):
        parse_pose_reply("{" * 30_000)


def test_prompt_documents_the_language(cues):
    system, user = build_messages("stage presenting", cues)
    assert system["role"] == "system" and "JSON" in system["content"] and "beat(t)" in system["content"]
    summary = json.loads(user["content"].split("Audio summary (JSON): ")[1].splitlines()[0])
    assert summary["duration_s"] == 4.0 and "tempo_bpm" in summary


class ScriptedBackend:
    """Any object with identity() and complete() is a backend."""

    def __init__(self, reply: str):
        self.reply = reply

    def identity(self) -> str:
        return "scripted"

    def complete(self, messages, seed, temperature, max_tokens):
        return self.reply


def test_custom_backend_and_center_mode(cues):
    traj = pose_from_llm("x", cues, ScriptedBackend(json.dumps(GOOD)), cache_dir=None, mode="center")
    assert traj.mode == "center" and traj.num_frames == cues.num_frames


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = tmp_path_factory.mktemp("tiny_llm")
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(['{"pitch": "sin(t)", "yaw": "0", "roll": "0"}', "head pose nod turn tilt"] * 5, trainer)
    eos = "<|endoftext|>"
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token=eos)
    fast.save_pretrained(folder)
    config = transformers.GPT2Config(vocab_size=fast.vocab_size, n_positions=2048, n_embd=32, n_layer=2, n_head=2,
                                     bos_token_id=fast.eos_token_id, eos_token_id=fast.eos_token_id)
    import torch

    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def test_local_transformers_backend(tiny_model_dir, cues):
    backend = TransformersChatBackend(tiny_model_dir, max_input_tokens=1024)
    messages = build_messages("calm", cues)
    a = backend.complete(messages, seed=0, temperature=0.0, max_tokens=12)
    b = backend.complete(messages, seed=0, temperature=0.0, max_tokens=12)
    assert isinstance(a, str) and a == b
    assert backend.identity().startswith("transformers:")
    # A random model writes no usable JSON: a clear fallback, or a clear error when asked to fail.
    traj = pose_from_llm("calm", cues, backend, cache_dir=None, max_tokens=12)
    assert traj.metadata["source"] == "preset" and "warning" in traj.metadata
    with pytest.raises(LLMError):
        pose_from_llm("calm", cues, backend, cache_dir=None, max_tokens=12, on_error="fail")


def test_local_backend_missing_folder(tmp_path, cues):
    with pytest.raises(Exception, match="config.json"):
        TransformersChatBackend(tmp_path).complete(build_messages("calm", cues))


def test_cli_llm(server, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "llm.npz"
    url = f"http://127.0.0.1:{server.server_port}/good/v1"
    assert main(["control", "pose", "--style", "calm", "--llm-url", url, "--llm-model", "m",
                 "--duration", "2", "--out", str(out)]) == 0
    assert PoseTrajectory.load(out).metadata["source"] == "llm"
    url = f"http://127.0.0.1:{server.server_port}/error/v1"
    assert main(["control", "pose", "--style", "calm", "--llm-url", url, "--llm-model", "m",
                 "--duration", "2", "--out", str(out), "--on-error", "fail"]) == 2
    assert "HTTP 500" in capsys.readouterr().err
