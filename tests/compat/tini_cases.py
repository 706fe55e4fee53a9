#!/usr/bin/env python3
"""tini 0.19.0's own tests, one case at a time, against one program run as `tini`.

Each case re-expresses one check of tini's ci/run_build.sh (its smoke tests, "S") or
test/run_inner_tests.py ("I"), named after the upstream file and the message that upstream
prints before it, and uses upstream's helper programs (test/reaping/stage_1.py, ...) unchanged.
The upstream file stops at its first failed assert; here every case runs and reports.

    tini_cases.py TINI SOURCE_DIR BUILD_DIR     prints "RESULT<TAB>CASE<TAB>PASS|FAIL<TAB>detail"

CASE_TIMEOUT (seconds, default 60) bounds a case that waits for the program under test.
"""
import os
import signal
import subprocess
import sys
import time

import psutil

TINI, SRC, BUILD = sys.argv[1], sys.argv[2], sys.argv[3]
TEST = os.path.join(SRC, "test")
PROXY = os.path.join(TEST, "subreaper-proxy.py")
DEVNULL = subprocess.DEVNULL
CASE_TIMEOUT = float(os.environ.get("CASE_TIMEOUT", "60"))
results = []


def case(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, "PASS", ""))
        except Exception as e:  # noqa: BLE001 - every failure is a result
            results.append((name, "FAIL", repr(e)[:300].replace("\n", " ")))
        return fn

    return wrap


def run(args, env=None, stdin=None, timeout=CASE_TIMEOUT):
    p = subprocess.run(args, env=dict(os.environ, **(env or {})), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def busy_wait(cond, timeout):  # test/run_inner_tests.py: busy_wait
    for _ in range(100):
        if cond():
            return
        time.sleep(timeout / 100)
    raise AssertionError("Condition was never met")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


# ---- ci/run_build.sh, "Smoke test" section (the non-MINIMAL branch) ----
@case("S ci/run_build.sh: Testing tini --version")
def _():
    rc, out, _ = run([TINI, "--version"])
    check(rc == 0 and "tini version" in out, "rc=%d out=%r" % (rc, out))


@case("S ci/run_build.sh: Testing tini without arguments exits with 1")
def _():
    rc, _, err = run([TINI])
    check(rc == 1, "rc=%d (upstream checks nonzero; tini's status is 1)" % rc)
    check("supervision of a valid init process" in err, "Testing tini shows help message")


@case("S ci/run_build.sh: Testing tini -h")
def _():
    rc, out, _ = run([TINI, "-h"])
    check(rc == 0, "rc=%d" % rc)


@case("S ci/run_build.sh: Testing tini for license")
def _():
    rc, out, _ = run([TINI, "-l"])
    check(rc == 0 and out == open(os.path.join(SRC, "LICENSE")).read(), "not tini's LICENSE")


@case("S ci/run_build.sh: Testing tini with: true / false (-vvv)")
def _():
    check(run([TINI, "-vvv", "true"])[0] == 0, "true failed")
    check(run([TINI, "-vvv", "false"])[0] != 0, "false succeeded")


@case("S ci/run_build.sh: Testing tini references options that exist")
def _():
    rc, out, err = run([TINI])
    check(rc != 0 and "more verbose" in out + err, "no 'more verbose' in the usage")


@case("S ci/run_build.sh: Testing tini with: -- true / -- -- true")
def _():
    check(run([TINI, "-vvv", "--", "true"])[0] == 0, "-- true failed")
    check(run([TINI, "-vvv", "--", "--", "true"])[0] != 0, "-- -- true succeeded")


@case("S ci/run_build.sh: Testing tini supports TINI_VERBOSITY")
def _():
    rc, out, err = run([TINI, "true"], env={"TINI_VERBOSITY": "3"})
    check("Received SIGCHLD" in out + err, "no 'Received SIGCHLD'")


@case("S ci/run_build.sh: Testing tini exits with 127 if the command does not exist")
def _():
    rc = run([TINI, "foobar123"])[0]
    check(rc == 127, "rc=%d" % rc)


@case("S ci/run_build.sh: Testing tini exits with 126 if the command is not executable")
def _():
    rc = run([TINI, "/etc"])[0]
    check(rc == 126, "rc=%d" % rc)


@case("S ci/run_build.sh: Testing tini does not break pipes")
def _():
    rc = run([TINI, "sh"], stdin="exit 0")[0]
    check(rc == 0, "rc=%d" % rc)


# ---- test/run_inner_tests.py ----
@case("I run_inner_tests.py: Running exit code test (inclusive, -e N --)")
def _():
    for code in range(256):
        rc = subprocess.call([TINI, "-e", str(code), "--", "sh", "-c", "exit %d" % code],
                             stdout=DEVNULL, stderr=DEVNULL)
        check(rc == 0, "Inclusive exit code test failed for %d, exit: %d" % (code, rc))


@case("I run_inner_tests.py: Running exit code test (exclusive, POSIXLY_CORRECT)")
def _():
    for code in range(256):
        args = []
        for x in range(256):
            if x != code:
                args += ["-e", str(x)]
        rc = subprocess.call([TINI] + args + ["sh", "-c", "exit %d" % code],
                             env=dict(os.environ, POSIXLY_CORRECT="1"),
                             stdout=DEVNULL, stderr=DEVNULL)
        check(rc == code, "Exclusive exit code test failed for %d, exit: %d" % (code, rc))


TARGETS = [("proxy", [PROXY, TINI], {}), ("-s", [TINI, "-s"], {}),
           ("TINI_SUBREAPER", [TINI], {"TINI_SUBREAPER": ""})]
for label, target, env in TARGETS:

    @case("I run_inner_tests.py: Running reaping test (%s)" % label)
    def _(target=target, env=env):
        rc, out, err = run(target + [os.path.join(TEST, "reaping", "stage_1.py")], env=env)
        check("zombie reaping won't work" not in err, "Warning message was output!")
        check("Reaped zombie process with pid=" not in err, "Warning message was output!")
        check(rc == 0, "Reaping test failed! rc=%d OUT: %s ERR: %s" % (rc, out[-200:], err[-200:]))

    @case("I run_inner_tests.py: Running reaping display test (%s)" % label)
    def _(target=target, env=env):
        rc, out, err = run(target + ["-w", os.path.join(TEST, "reaping", "stage_1.py")], env=env)
        check("Reaped zombie process with pid=" in err, "no 'Reaped zombie process' message")
        check(rc == 0, "Reaping display test failed! rc=%d ERR: %s" % (rc, err[-200:]))

    for signum in [signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2]:

        @case("I run_inner_tests.py: running signal test for: %d (%s)" % (signum, label))
        def _(target=target, env=env, signum=signum):
            p = subprocess.Popen(target + [os.path.join(TEST, "signals", "test.py")],
                                 env=dict(os.environ, **env))
            try:
                busy_wait(lambda: len(psutil.Process(p.pid).children(recursive=True)) > 1, 10)
                p.send_signal(signum)
                ret = p.wait(timeout=CASE_TIMEOUT)
                check(ret == 128 + signum, "ret was %d, expected %d" % (ret, 128 + signum))
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()


def pgroup_case(args, env):
    p = subprocess.Popen(args + [os.path.join(TEST, "pgroup", "stage_1.py")], env=env,
                         stdout=DEVNULL, stderr=DEVNULL)
    try:
        busy_wait(lambda: len(psutil.Process(p.pid).children(recursive=True)) == 2, 10)
        p.send_signal(signal.SIGUSR1)
        busy_wait(lambda: p.poll() is not None, 10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@case("I run_inner_tests.py: Running process group test (arguments)")
def _():
    pgroup_case([TINI, "-g"], dict(os.environ))


@case("I run_inner_tests.py: Running process group test (environment variable)")
def _():
    pgroup_case([TINI], dict(os.environ, TINI_KILL_PROCESS_GROUP="1"))


@case("I run_inner_tests.py: Running zombie reaping failure test (Tini should warn)")
def _():
    rc, out, err = run([TINI, os.path.join(TEST, "reaping", "stage_1.py")],
                       env={"TINI_VERBOSITY": "1"})
    check("zombie reaping won't work" in err, "No warning message was output!")
    check(rc == 1, "Reaping test succeeded (it should have failed)!")


@case("I run_inner_tests.py: Running signal configuration test")
def _():
    rc, out, err = run([os.path.join(BUILD, "sigconf-test"), TINI, "cat", "/proc/self/status"])
    props = dict((k.strip(), int(v, 16)) for k, v in
                 (line.split(":", 1) for line in out.splitlines() if ":" in line)
                 if k.strip() in ("SigBlk", "SigIgn", "SigCgt"))
    for name, sigs in [("SigIgn", [signal.SIGTTOU, signal.SIGSEGV, signal.SIGINT]),
                       ("SigBlk", [signal.SIGTTIN, signal.SIGILL, signal.SIGTERM])]:
        for s in sigs:
            check(props.get(name, 0) >> (s - 1) & 1, "%s (%d) is missing in %s" % (s.name, s, name))


@case("I run_inner_tests.py: Running parent death signal test")
def _():
    path = os.path.join(BUILD, "pdeathsignal.out")
    if os.path.exists(path):
        os.unlink(path)
    open(path, "w").close()
    subprocess.call([os.path.join(TEST, "pdeathsignal", "stage_1.py"), TINI, path],
                    stdout=DEVNULL, stderr=DEVNULL)
    busy_wait(lambda: open(path).read() == "ok", 10)


for name, verdict, detail in results:
    print("RESULT\t%s\t%s\t%s" % (name, verdict, detail))
