#!/usr/bin/env python3
"""Cold start and memory of a Lambda bootstrap, against a minimal stand-in for the Lambda Runtime API on
loopback: the time from process start to its first `GET /runtime/invocation/next` (ready), then COUNT sample
API Gateway events served one after another (each response checked), then the peak resident memory (VmHWM).

  scripts/coldstart.py BOOTSTRAP [COUNT] [EVENT.json ...]   (environment passes through to the bootstrap;
  COLDSTART_LOG=FILE keeps its output)
"""
import http.server, json, os, subprocess, sys, threading, time

args = [a for a in sys.argv[1:] if not a.startswith("--event")]
bootstrap = args[0]
count = int(args[1]) if len(args) > 1 else 0
events = [json.load(open(p)) for p in sys.argv[2:] if p.endswith(".json")] or [{"version": "2.0", "rawPath": "/",
          "requestContext": {"http": {"method": "GET", "path": "/", "sourceIp": "127.0.0.1"}, "requestId": "r", "timeEpoch": 0},
          "headers": {}, "isBase64Encoded": False}]

state = {"ready": None, "served": 0, "answered": 0, "statuses": {}}
done = threading.Event()

class RuntimeApi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms to every keep-alive exchange
    def log_message(self, *a): pass
    def do_GET(self):
        if state["ready"] is None:
            state["ready"] = time.perf_counter()
        if state["served"] >= count:
            done.set()
            time.sleep(3600)  # hold the next invocation: the function idles, as between requests
            return
        body = json.dumps(events[state["served"] % len(events)]).encode()
        state["served"] += 1
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{state['served']}")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        payload = self.rfile.read(length)
        if self.path.endswith("/response"):
            state["answered"] += 1
            try:
                code = json.loads(payload).get("statusCode")
            except Exception:
                code = "?"
            state["statuses"][code] = state["statuses"].get(code, 0) + 1
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}", AWS_LAMBDA_FUNCTION_NAME="bench",
           AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_LOG_STREAM_NAME="bench",
           AWS_LAMBDA_LOG_GROUP_NAME="bench")
started = time.perf_counter()
# COLDSTART_LOG=FILE keeps what the function prints (its JSON log lines and EMF metric lines).
output = open(os.environ["COLDSTART_LOG"], "w") if os.environ.get("COLDSTART_LOG") else subprocess.DEVNULL
process = subprocess.Popen([bootstrap], env=env, stdout=output, stderr=output)
done.wait(timeout=120)
finished = time.perf_counter()
rss = "?"
with open(f"/proc/{process.pid}/status") as status:
    for line in status:
        if line.startswith("VmHWM:"):
            rss = line.split()[1]
process.kill()
ready_ms = (state["ready"] - started) * 1000 if state["ready"] else float("nan")
print(json.dumps({"bootstrap": bootstrap, "size_bytes": os.path.getsize(bootstrap), "ready_ms": round(ready_ms, 2),
                  "requests": state["answered"], "statuses": state["statuses"],
                  "ms_per_request": round((finished - state["ready"]) * 1000 / max(count, 1), 3) if count else None,
                  "peak_rss_kb": int(rss) if rss != "?" else rss}))
