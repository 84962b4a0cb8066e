#!/usr/bin/env python3
"""Tencent's official Python SDK judges our API 3.0 wire format, both ways.

(a) Every action the demo API serves (found by asking it for every action CdbClient knows)
    is called with the official CdbClient: the demo must accept the SDK's signature, and
    each answer must deserialize with no "fileds are useless" warning (the SDK's spelling).
(b) A judge server stands in for CDB and STS: it checks every request the exporter sends
    against the SDK's own TC3 signer, headers and request models (an unknown parameter is a
    failure), and answers CDB from the demo, STS from the SDK's models. The exporter runs one
    listing round of every action without, then with a session token (env, assumed role).

Usage: sdk-conformance.py [EXPORTER_BINARY]   (default target/release/cdb-rollback-exporter)
SDK_VENV=DIR uses (or creates) that venv instead of target/sdk-venv. Exit 1 on a mismatch.
"""
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import Request, urlopen

# Pinned: a new SDK release (new fields, new checks) should be a reviewed change, not a
# surprise in CI.
SDK = ["tencentcloud-sdk-python-common==3.1.195", "tencentcloud-sdk-python-cdb==3.1.192",
       "tencentcloud-sdk-python-sts==3.0.1459"]
# Actions the demo serves that the exporter never sends, with parameters for (a).
NOT_SENT_BY_EXPORTER = {}
REGION = "ap-guangzhou"
SECRET_ID = "AKIDdemo0simulator0not0a0real0key00"  # the demo's published pair (README)
SECRET_KEY = "demo-secret-key-of-the-simulator"
ENV_TOKEN, ROLE_TOKEN = "sdk-conformance-env-token", "sdk-conformance-role-token"
ROLE_ARN = "qcs::cam::uin/100000000001:roleName/sdk-conformance"
ROUND_TIMEOUT = 90  # seconds for one listing round of every action
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_venv():
    """Re-runs this script in a venv holding the pinned SDK, creating it when needed."""
    venv = os.environ.get("SDK_VENV") or os.path.join(ROOT, "target", "sdk-venv")
    python = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    check = "import importlib.metadata as m, sys; sys.exit(any(" \
            "m.version(p.split('==')[0]) != p.split('==')[1] for p in sys.argv[1:]))"
    if not os.path.exists(python) or subprocess.run([python, "-c", check] + SDK).returncode:
        if not os.path.exists(python) and subprocess.run(
                [sys.executable, "-m", "venv", venv], capture_output=True).returncode:
            # Debian's python3 has no ensurepip without python3-venv.
            shutil.rmtree(venv, ignore_errors=True)
            print("==> installing Debian package python3-venv", file=sys.stderr)
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                            "python3-venv"], check=True, stdout=subprocess.DEVNULL,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        print("==> installing %s into %s" % (" ".join(SDK), venv), file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
                       + SDK, check=True)
    os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


ensure_venv()
# pylint: disable=wrong-import-position  (only importable inside the venv)
from tencentcloud.cdb.v20170320 import cdb_client, models as cdb_models  # noqa: E402
from tencentcloud.common import credential  # noqa: E402
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # noqa: E402
    TencentCloudSDKException)
from tencentcloud.common.http.request import RequestInternal  # noqa: E402
from tencentcloud.common.profile.client_profile import ClientProfile  # noqa: E402
from tencentcloud.common.profile.http_profile import HttpProfile  # noqa: E402
from tencentcloud.sts.v20180813 import sts_client, models as sts_models  # noqa: E402

SERVICES = {"cdb": (cdb_client.CdbClient, cdb_models), "sts": (sts_client.StsClient, sts_models)}
problems = {}  # text -> [how many times, the first one's details]
problems_lock = threading.Lock()  # the judge's threads add to it too


def problem(text, detail=""):
    with problems_lock:
        problems.setdefault(text, [0, detail])[0] += 1


def client(service, host, token=None):
    """The SDK's own client for `service` at http://host, with no X-TC-Language."""
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=host),
                            disable_region_breaker=True)
    profile.language = None
    return SERVICES[service][0](credential.Credential(SECRET_ID, SECRET_KEY, token),
                                REGION, profile)


def deserialize(model, params, what):
    """model._deserialize(params), as the SDK does it; its unknown-field warnings and a
    top-level key the model lacks (the SDK checks nested models only) are problems."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model._deserialize(params)  # pylint: disable=protected-access
    warned = set()
    for w in caught:
        problem("%s: the SDK warns: %s" % (what, w.message))
        warned.update(str(w.message).replace(" fileds are useless.", "").split(","))
    known = {name[1:] for name in vars(model) if name.startswith("_")}
    unknown = sorted(set(params) - known - warned)
    if unknown:
        problem("%s: %s not in the SDK's %s" % (what, ",".join(unknown), type(model).__name__))


def actions(service):
    """Every action the SDK's client for `service` has: a method with a Request model."""
    cls, models = SERVICES[service]
    return sorted(a for a in dir(cls) if a[:1].isupper() and hasattr(models, a + "Request"))


# ---- (a) the official CdbClient against the demo ----------------------------------------

def call_official(sdk, action, params):
    """One typed call, as a user of the SDK writes it; returns the raw Response."""
    request = getattr(cdb_models, action + "Request")()
    deserialize(request, params, "our parameters for %s" % action)
    raw, plain_call = [], sdk.call
    sdk.call = lambda *a, **k: raw.append(plain_call(*a, **k)) or raw[-1]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            getattr(sdk, action)(request)
    finally:
        sdk.call = plain_call
    for w in caught:
        problem("demo's %s answer: the SDK warns: %s" % (action, w.message))
    return json.loads(raw[0])["Response"] if raw else {}


def served_actions(sdk):
    """The actions the demo answers other than InvalidAction, asking for each the SDK has."""
    served, first_error = [], "no error"
    for action in actions("cdb"):
        try:
            getattr(sdk, action)(getattr(cdb_models, action + "Request")())
        except TencentCloudSDKException as e:
            if e.code.startswith("AuthFailure"):
                sys.exit("FAILED: the demo refuses the official SDK's signature for %s: %s %s"
                         % (action, e.code, e.message))
            if e.code == "InvalidAction":
                continue
            first_error = "%s %s" % (e.code, e.message)
        served.append(action)
    if len(served) in (0, len(actions("cdb"))):
        sys.exit("FAILED: the demo answers InvalidAction to none or all of the SDK's actions"
                 " (else: %s), so which it serves is unknown" % first_error)
    return served


def check_demo_answers(sdk, served, sent):
    for action in served:
        calls = sent.get(action, [])[:20] + ([NOT_SENT_BY_EXPORTER[action]]
                                             if action in NOT_SENT_BY_EXPORTER else [])
        if not calls:
            problem("the demo serves %s but nothing called it: add it to NOT_SENT_BY_EXPORTER"
                    " with parameters" % action)
        for params in calls:
            try:
                answer = call_official(sdk, action, params)
            except TencentCloudSDKException as e:
                problem("official %s %s: %s %s" % (action, json.dumps(params), e.code, e.message))
                continue
            if "Error" in answer:
                problem("official %s: the demo answered %s" % (action, answer["Error"]))
                continue
            model = getattr(cdb_models, action + "Response")()
            deserialize(model, answer, "demo's %s answer" % action)
        print("(a) %-28s %d call(s) with the official CdbClient" % (action, len(calls)))


# ---- (b) the judge: the SDK checks what the exporter sends ------------------------------

def expected_headers(service, host, action, params, token):
    """The headers the SDK itself would send for this request (but its own timestamp)."""
    req = RequestInternal(host, "POST", "/")
    client(service, host, token)._build_req_with_tc3_signature(action, params, req)
    return req.header


def sdk_authorization(service, host, headers, body):
    """The Authorization the SDK's signer computes for exactly these headers and body."""
    ts = int(headers["X-TC-Timestamp"])
    date = time.strftime("%Y-%m-%d", time.gmtime(ts))
    req = RequestInternal(host, "POST", "/", header={
        "Content-Type": headers.get("Content-Type", ""), "Host": host,
        "X-TC-Timestamp": str(ts)}, data=body)
    sig = client(service, host)._get_tc3_signature(None, req, date, service, SECRET_KEY)
    return ("TC3-HMAC-SHA256 Credential=%s/%s/%s/tc3_request, SignedHeaders=content-type;host,"
            " Signature=%s" % (SECRET_ID, date, service, sig))


def judge(service, headers, body, token, name):
    """The problems of one request the exporter sent; returns (action, params)."""
    action = headers.get("X-TC-Action", "")
    what = "exporter's %s %s (%s)" % (service, action or "request without X-TC-Action", name)
    if action not in actions(service):
        problem("%s: the SDK has no such %s action" % (what, service))
        return action, None
    try:
        params = json.loads(body)
    except ValueError:
        problem("%s: the body is not JSON: %r" % (what, body[:200]))
        return action, None
    deserialize(getattr(SERVICES[service][1], action + "Request")(), params, what)
    host = headers.get("Host", "")
    want = expected_headers(service, host, action, params, token)
    for h in ("Content-Type", "Host", "X-TC-Action", "X-TC-Version", "X-TC-Region",
              "X-TC-Token"):
        if headers.get(h) != want.get(h):
            problem("%s: header %s is %r, the SDK sends %r"
                    % (what, h, headers.get(h), want.get(h)))
    extra = {k for k in headers if k.lower().startswith("x-tc-")} - set(want)
    if extra - {"X-TC-TraceId"}:
        problem("%s: headers the SDK never sends: %s" % (what, ", ".join(sorted(extra))))
    try:
        skew = abs(time.time() - int(headers.get("X-TC-Timestamp", "")))
    except ValueError:
        problem("%s: X-TC-Timestamp %r" % (what, headers.get("X-TC-Timestamp")))
        return action, params
    if skew > 60:
        problem("%s: X-TC-Timestamp is %d s off" % (what, skew))
    auth = sdk_authorization(service, host, headers, body)
    if headers.get("Authorization") != auth:
        problem("%s: Authorization is not what the SDK's signer computes" % what,
                "ours %r, the SDK's %r" % (headers.get("Authorization"), auth))
    return action, params


class Judge(BaseHTTPRequestHandler):
    """CDB (passed on to the demo) or STS (answered from the SDK's models)."""
    service, demo, token, sent, name = "cdb", "", None, {}, ""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.title().replace("X-Tc-", "X-TC-"): v for k, v in self.headers.items()}
        action, params = judge(self.service, headers, body, self.token, self.name)
        if params is not None:
            self.sent.setdefault(action, []).append(params)
        if self.service == "cdb":
            signed = {k: v for k, v in headers.items()
                      if k in ("Host", "Content-Type", "Authorization") or k.startswith("X-TC-")}
            try:
                with urlopen(Request(self.demo, body, signed, method="POST"), timeout=10) as r:
                    answer = r.read()
            except OSError as e:
                problem("the demo did not answer %s: %s" % (action, e))
                return self.send_error(502)
        else:
            answer = json.dumps({"Response": sts_answer(action)}).encode()
        with contextlib.suppress(OSError):  # the exporter may be stopped mid-request
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    def log_message(self, *_):
        pass


def sts_answer(action):
    """Temporary credentials (the demo's pair, with a token), written by the SDK's model."""
    answer = getattr(sts_models, action + "Response")()
    answer.Credentials = creds = sts_models.Credentials()
    creds.TmpSecretId, creds.TmpSecretKey, creds.Token = SECRET_ID, SECRET_KEY, ROLE_TOKEN
    answer.ExpiredTime = int(time.time()) + 3600
    answer.Expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(answer.ExpiredTime))
    answer.RequestId = "sdk-conformance-%d" % time.time_ns()
    return answer._serialize()  # pylint: disable=protected-access


def serve(service, **attrs):
    handler = type("Judge_" + service, (Judge,), dict(service=service, **attrs))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "127.0.0.1:%d" % server.server_address[1]


def start(binary, args, env, log=None):
    return subprocess.Popen([binary] + args, env=env, stdout=subprocess.DEVNULL,
                            stderr=log or subprocess.PIPE, text=True)


def clean_env(**extra):
    """This environment without the settings that would change what the exporter does."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TENCENTCLOUD_", "TKE_", "CDB_ROLLBACK_EXPORTER_"))}
    env.update(extra)
    return env


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def exporter_round(binary, demo, expected, name, env_token, role):
    """Runs the exporter against the judge until it has sent every expected action."""
    sent = {}
    cdb, cdb_host = serve("cdb", demo=demo, token=ROLE_TOKEN if role else env_token, sent=sent,
                          name=name)
    sts, sts_host = serve("sts", token=env_token, sent=sent, name=name)
    work = tempfile.mkdtemp(prefix="sdk-conformance-")
    cfg = os.path.join(work, "config.yml")
    with open(cfg, "w", encoding="utf-8") as f:
        f.write("api:\n  endpoint: http://%s/\n  regions: [%s]\n  max_requests_per_second: 50\n"
                % (cdb_host, REGION))
        if role:
            f.write("credentials:\n  role_arn: %s\n  sts_endpoint: http://%s/\n"
                    % (ROLE_ARN, sts_host))
    env = clean_env(HOME=work, TENCENTCLOUD_SECRET_ID=SECRET_ID,
                    TENCENTCLOUD_SECRET_KEY=SECRET_KEY)
    if env_token:
        env["TENCENTCLOUD_SESSION_TOKEN"] = env_token
    log_path = os.path.join(work, "exporter.log")
    with open(log_path, "w", encoding="utf-8") as log:
        proc = start(binary, ["--config.file", cfg, "--web.listen-address", "127.0.0.1:0"],
                     env, log)
        deadline = time.time() + ROUND_TIMEOUT
        while (set(expected) - set(sent)) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(1)  # the rest of the round (further pages and details)
        exited = proc.poll()
        stop(proc)
    cdb.shutdown()
    sts.shutdown()
    missing = sorted(set(expected) - set(sent))
    if exited is not None or missing:
        why = ("the exporter exited with %s" % exited if exited is not None
               else "no %s request within %d s" % (", ".join(missing), ROUND_TIMEOUT))
        with open(log_path, encoding="utf-8") as f:
            problem("(b) %s: %s" % (name, why), "exporter log:\n" + f.read()[-3000:])
    shutil.rmtree(work, ignore_errors=True)
    counts = ", ".join("%s x%d" % (a, len(sent[a])) for a in sorted(sent))
    print("(b) %-40s %s" % (name, counts or "no requests"))
    return sent


def start_demo(binary):
    proc = start(binary, ["demo-api", "--listen", "127.0.0.1:0"], clean_env())
    for line in proc.stderr:
        m = re.search(r" endpoint=(http://\S+?)/? ", line)
        if m:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep it drained
            return proc, m.group(1)
    sys.exit("FAILED: demo-api did not say where it listens (exit %s)" % proc.wait())


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "target", "release", "cdb-rollback-exporter")
    if not os.access(binary, os.X_OK):
        sys.exit("FAILED: no exporter binary at %s (cargo build --release --locked)" % binary)
    demo, url = start_demo(binary)
    try:
        sdk = client("cdb", url.split("//", 1)[1])
        served = served_actions(sdk)
        print("demo-api serves (asked for each of %d CdbClient actions): %s"
              % (len(actions("cdb")), ", ".join(served)))
        expected = [a for a in served if a not in NOT_SENT_BY_EXPORTER]
        sent = {}
        for name, env_token, role in (("no session token", None, False),
                                      ("env session token", ENV_TOKEN, False),
                                      ("assumed role (STS AssumeRole)", ENV_TOKEN, True)):
            for action, calls in exporter_round(binary, url, expected, name, env_token,
                                                role).items():
                sent.setdefault(action, []).extend(calls)
        unserved = sorted(set(sent) - set(served) - set(actions("sts")))
        if unserved:
            problem("the exporter sends %s, which the demo does not serve" % ", ".join(unserved))
        check_demo_answers(sdk, served, sent)
    finally:
        stop(demo)
    if problems:
        print("\nFAILED: %d kind(s) of mismatch with the official SDK:" % len(problems),
              file=sys.stderr)
        for text, (n, detail) in problems.items():
            print("  - %s%s%s" % (text, " (x%d)" % n if n > 1 else "",
                                  detail and "\n    e.g. " + detail), file=sys.stderr)
        sys.exit(1)
    print("sdk-conformance: the official SDK accepts every request and answer")


if __name__ == "__main__":
    main()
