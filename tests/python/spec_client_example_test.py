#!/usr/bin/python3
"""The spec's own Python client example, run against the real host binary.

Starts a local echo server (websockets.serve on 127.0.0.1:0), writes a temporary configuration
(no plugins, a free loopback port), starts apistudio-host with --config, waits for /healthz, then
runs the example from shared/spec/websocket-events-reference.md verbatim except for its two URLs,
in its own interpreter, and checks what it printed. Finally the host gets SIGTERM and must exit 0
within 5 s. A second check follows the spec's JavaScript example's flow.

Uses Debian's python3-websockets (10.x). Run by CTest with --host-binary and --plugin-dir.
"""

import argparse
import ast
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

try:
    import websockets
except ImportError:  # a pyenv/venv interpreter first on PATH: use the system one (python3-websockets)
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath(
            "/usr/bin/python3") and not os.environ.get("APISTUDIO_REEXEC"):
        os.environ["APISTUDIO_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("python3-websockets is not installed (apt-get install python3-websockets)", file=sys.stderr)
    sys.exit(1)

# The example exactly as the spec prints it ("Python Client Example"); only the two URLs are
# replaced by the test (HOST_URI and UPSTREAM_URL below).
SPEC_EXAMPLE = '''
import asyncio
import websockets
import json

async def websocket_client():
    uri = "ws://localhost:58123/api/websocket/connect/client123"
    
    async with websockets.connect(uri) as websocket:
        # Connect to external WebSocket
        await websocket.send(json.dumps({
            "type": "connect_external",
            "url": "wss://echo.websocket.org"
        }))
        
        # Send a message
        await websocket.send(json.dumps({
            "type": "send_message",
            "content": "Hello from Python!"
        }))
        
        # Listen for responses
        async for message in websocket:
            data = json.loads(message)
            print(f"Received: {data}")

# Run the client
asyncio.run(websocket_client())
'''

SHUTDOWN_LIMIT_S = 5.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoServer:
    """websockets.serve on 127.0.0.1:0 in a background event loop."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.port = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("echo server did not start")

    async def _echo(self, ws, path=None):
        try:
            async for message in ws:
                await ws.send(message)
        except websockets.ConnectionClosed:
            pass

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(websockets.serve(self._echo, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Host:
    """The real apistudio-host binary on a free loopback port, no plugins."""

    def __init__(self, binary, plugin_dir, workdir):
        self.process = None
        for _ in range(3):  # a free port can be taken by someone else before the host binds it
            self.port = free_port()
            config = os.path.join(workdir, "apistudio-test.yaml")
            with open(config, "w") as f:
                f.write("server:\n  listen: \"127.0.0.1:%d\"\n  worker_threads: 2\n"
                        "plugin_dir: \"%s\"\nplugins: []\n"
                        "shutdown:\n  drain_timeout: 1s\n" % (self.port, plugin_dir))
            self.log = open(os.path.join(workdir, "host.log"), "w+")
            self.process = subprocess.Popen([binary, "--config", config], stdout=self.log,
                                            stderr=subprocess.STDOUT)
            if self._wait_healthy(10):
                return
            self.process.kill()
            self.process.wait()
        raise RuntimeError("the host did not answer /healthz:\n" + self.output())

    def _wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                url = "http://127.0.0.1:%d/healthz" % self.port
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200 and json.load(r).get("status") == "ok":
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def terminate(self):
        """SIGTERM; returns (exit code or None, seconds taken)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            rc = self.process.wait(SHUTDOWN_LIMIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            rc = None
        return rc, time.monotonic() - started


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def run_spec_python_example(host, echo, workdir):
    host_uri = "ws://localhost:%d/api/websocket/connect/client123" % host.port
    upstream = "ws://127.0.0.1:%d/" % echo.port
    code = SPEC_EXAMPLE.replace("ws://localhost:58123/api/websocket/connect/client123", host_uri)
    code = code.replace("wss://echo.websocket.org", upstream)
    check(code.count(host_uri) == 1 and code.count(upstream) == 1, "the example's URLs were not found")
    script = os.path.join(workdir, "spec_example.py")
    with open(script, "w") as f:
        f.write(code)

    example = subprocess.Popen([sys.executable, "-u", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    events = []
    lines = []
    deadline = time.monotonic() + 15

    def read_lines():
        for line in example.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    wanted = {("connection_status", "connecting"), ("connection_status", "connected"),
              ("message_sent", "Hello from Python!"), ("message_received", "Hello from Python!")}
    try:
        while time.monotonic() < deadline:
            events = [ast.literal_eval(l[len("Received: "):]) for l in list(lines)
                      if l.startswith("Received: ")]
            got = {(e.get("type"), e.get("status", e.get("content"))) for e in events}
            if wanted <= got or example.poll() is not None:
                break
            time.sleep(0.02)
        got = {(e.get("type"), e.get("status", e.get("content"))) for e in events}
        check(wanted <= got, "missing %s; the example printed:\n%s\nstderr:\n%s" % (
            sorted(wanted - got), "\n".join(lines), example.stderr.read() if example.poll() is not None else ""))
        types = [e["type"] for e in events]
        check(types[:2] == ["connection_status", "connection_status"], "first events: %s" % types)
        check([e["status"] for e in events[:2]] == ["connecting", "connected"], "statuses: %s" % events[:2])
        for e in events:
            check(isinstance(e.get("timestamp"), str) and e["timestamp"].endswith("Z"), "timestamp: %s" % e)
        check(not any(e["type"] in ("error", "send_error", "connection_error") for e in events),
              "an error event: %s" % events)
    except BaseException:
        example.kill()
        example.wait()
        raise
    return example


def run_js_like_flow(host, echo):
    """The JavaScript example's flow: connect_external with protocols: [] and send_message at once,
    handle events by type, and disconnect_external (here once the echo came back)."""

    async def flow():
        uri = "ws://127.0.0.1:%d/api/websocket/connect/client-js" % host.port
        async with websockets.connect(uri) as ws:
            await ws.send(json.dumps({"type": "connect_external",
                                      "url": "ws://127.0.0.1:%d/" % echo.port, "protocols": []}))
            await ws.send(json.dumps({"type": "send_message", "content": "Hello World!"}))
            statuses, received = [], []
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "connection_status":
                    statuses.append(message["status"])
                    if message["status"] == "disconnected":
                        check(message.get("close_code") == 1000, "close_code: %s" % message)
                        break
                elif message["type"] == "message_received":
                    received.append(message["content"])
                    await ws.send(json.dumps({"type": "disconnect_external"}))
                elif message["type"] == "connection_error":
                    raise AssertionError("connection_error: %s" % message)
            check(statuses == ["connecting", "connected", "disconnected"], "statuses: %s" % statuses)
            check(received == ["Hello World!"], "received: %s" % received)

    asyncio.run(asyncio.wait_for(flow(), 15))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host-binary", required=True)
    parser.add_argument("--plugin-dir", required=True)
    args = parser.parse_args()

    passed, failed = 0, 0

    def record(name, fn):
        nonlocal passed, failed
        try:
            fn()
            passed += 1
            print("PASS", name)
        except Exception:
            failed += 1
            print("FAIL", name)
            traceback.print_exc()

    with tempfile.TemporaryDirectory() as workdir:
        echo = EchoServer()
        host = Host(args.host_binary, args.plugin_dir, workdir)
        example = None
        try:
            def spec_example():
                nonlocal example
                example = run_spec_python_example(host, echo, workdir)

            record("spec Python client example", spec_example)
            record("spec JavaScript example flow", lambda: run_js_like_flow(host, echo))

            def shutdown():
                # The example is still connected (client and upstream): SIGTERM must drain (1 s
                # here), then close both with 1001 and exit 0, within 5 s in all.
                rc, took = host.terminate()
                check(rc == 0, "exit code %s after SIGTERM; host output:\n%s" % (rc, host.output()))
                check(took < SHUTDOWN_LIMIT_S, "took %.1fs to exit" % took)
                if example is not None:
                    try:
                        example_rc = example.wait(SHUTDOWN_LIMIT_S)
                    except subprocess.TimeoutExpired:
                        example.kill()
                        raise AssertionError("the example did not see the host close its socket")
                    # Its `async for` ends quietly on a 1001 close (ConnectionClosedOK).
                    check(example_rc == 0, "example exit %s: %s" % (example_rc, example.stderr.read()))

            record("SIGTERM stops the host with exit 0 within 5 s", shutdown)
        finally:
            if host.process.poll() is None:
                host.process.kill()
                host.process.wait()
            if example is not None and example.poll() is None:
                example.kill()
                example.wait()
            echo.stop()

    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
