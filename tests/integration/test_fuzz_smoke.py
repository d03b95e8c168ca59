"""Short libFuzzer runs of every fuzz target (scripts/fuzz --seconds 5).

Skipped, with the reason, when clang cannot build fuzzers here; any crash,
sanitizer report or failed invariant fails the test.
"""
import os
import subprocess
import unittest

import mrtest

FUZZ = os.path.join(mrtest.SRCDIR, "scripts", "fuzz")
BUILD = os.path.join(mrtest.BUILDDIR, "build-fuzz")
SKIP_STATUS = 77  # scripts/fuzz: no fuzzer runtime


class FuzzSmoke(unittest.TestCase):
    def run_target(self, target):
        env = dict(os.environ, MR_FUZZ_BUILD=BUILD)
        proc = subprocess.run(
            ["bash", FUZZ, "--seconds", "5", target],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=300)
        if proc.returncode == SKIP_STATUS:
            print("# " + proc.stdout.replace("\n", "\n# "))
            self.skipTest("clang's libFuzzer runtime is missing")
        self.assertEqual(proc.returncode, 0, proc.stdout)
        self.assertIn(f"fuzz: {target} ok", proc.stdout)

    def test_linereader(self):
        self.run_target("linereader")

    def test_proxy(self):
        self.run_target("proxy")

    def test_addr(self):
        self.run_target("addr")

    def test_uidlist(self):
        self.run_target("uidlist")

    def test_lookup(self):
        self.run_target("lookup")

    def test_authproto(self):
        self.run_target("authproto")

    def test_smtp(self):
        self.run_target("smtp")

    def test_queuefile(self):
        self.run_target("queuefile")

    def test_imap(self):
        self.run_target("imap")

    def test_imap_utf7(self):
        self.run_target("imap-utf7")

    def test_mime(self):
        self.run_target("mime")

    def test_imap_fetch(self):
        self.run_target("imap-fetch")

    def test_pop3(self):
        self.run_target("pop3")

    def test_every_target_is_smoked(self):
        fuzz_dir = os.path.join(mrtest.SRCDIR, "tests", "fuzz")
        # fuzz-imap-utf7.c is smoked by test_imap_utf7, fuzz-imap-fetch.c by
        # test_imap_fetch.
        targets = sorted(f[len("fuzz-"):-2].replace("-", "_") for f in os.listdir(fuzz_dir)
                         if f.startswith("fuzz-") and f.endswith(".c"))
        tested = sorted(n[len("test_"):] for n in dir(self)
                        if n.startswith("test_") and n != "test_every_target_is_smoked")
        self.assertEqual(targets, tested)


if __name__ == "__main__":
    unittest.main()
