#!/usr/bin/env python3
"""Run one Python test file's unittest cases and report them as TAP.

Used as the log compiler for tests/integration/*.py under `make check`,
so integration tests are counted by the same tap-driver as the C tests.
A skipped case is reported as "ok N - name # SKIP reason".
"""
import importlib.util
import os
import sys
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, directive=""):
        self.n += 1
        name = test.id().split(".", 1)[-1]
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name}{directive}", flush=True)

    def _diag(self, err):
        text = "".join(traceback.format_exception(*err))
        for line in text.rstrip().splitlines():
            print(f"# {line}", flush=True)

    def addSuccess(self, test):
        self._line(True, test)

    def addFailure(self, test, err):
        self._diag(err)
        self._line(False, test)

    def addError(self, test, err):
        self._diag(err)
        self._line(False, test)

    def addSubTest(self, test, subtest, err):
        # A failed subTest fails its test, which then gets no addSuccess:
        # without a line here the failure would vanish from the count.
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._diag(err)
            self._line(False, subtest)

    def addSkip(self, test, reason):
        self._line(True, test, f" # SKIP {reason}")

    def addExpectedFailure(self, test, err):
        self._line(True, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        self._line(False, test, " # unexpected success")


def main():
    path = sys.argv[1]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("under_test", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception:
        traceback.print_exc(file=sys.stdout)
        print("not ok 1 - import " + os.path.basename(path))
        print("1..1")
        return 0
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    result = TapResult()
    suite.run(result)
    print(f"1..{result.n}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
