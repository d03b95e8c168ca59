"""Sample config files against their programs' --print-defaults.

Each (program, sample) pair must pass scripts/check-sample-config; the
checker itself is shown to catch each kind of mistake on broken copies of
cfgtool's sample.
"""
import os
import subprocess
import tempfile
import unittest

from mrtest import BUILDDIR, SRCDIR

CHECKER = os.path.join(SRCDIR, "scripts", "check-sample-config")
CFGTOOL = os.path.join(BUILDDIR, "tests", "unit", "cfgtool")
CFGTOOL_SAMPLE = os.path.join(SRCDIR, "tests", "unit", "cfgtool.conf")

# (program in the build tree, sample in the source tree); each daemon adds its own.
SAMPLES = [
    (CFGTOOL, CFGTOOL_SAMPLE),
    (os.path.join(BUILDDIR, "authd", "mailroom-authd"), os.path.join(SRCDIR, "etc", "authd.conf")),
    # mta/mailroom-mta once the queue is in; until then the session with a stand-in queue
    (os.path.join(BUILDDIR, "mta", "mailroom-mta"), os.path.join(SRCDIR, "etc", "mta.conf")),
    (os.path.join(BUILDDIR, "mbs", "mailroom-mbs"), os.path.join(SRCDIR, "etc", "mbs.conf")),
]


def run_checker(program, sample):
    return subprocess.run(["python3", CHECKER, program, sample], capture_output=True,
                          text=True, timeout=60)


class SampleConfigTest(unittest.TestCase):
    def test_samples_match_their_programs(self):
        for program, sample in SAMPLES:
            with self.subTest(sample=os.path.basename(sample)):
                out = run_checker(program, sample)
                self.assertEqual(out.returncode, 0, out.stderr)

    def test_cfgtool_defaults_load_back(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "defaults.conf")
            out = subprocess.run([CFGTOOL, "--print-defaults"], capture_output=True,
                                 text=True, timeout=30, check=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(out.stdout)
            # the defaults as a sample: every key commented out at its default
            commented = "".join(line if line.startswith("#") or not line.strip()
                                else "#" + line for line in out.stdout.splitlines(True))
            sample = os.path.join(tmp, "commented.conf")
            with open(sample, "w", encoding="utf-8") as f:
                f.write(commented)
            self.assertEqual(subprocess.run([CFGTOOL, "--config", path, "--check-config"],
                                            timeout=30).returncode, 0)
            out = run_checker(CFGTOOL, sample)
            self.assertEqual(out.returncode, 0, out.stderr)


class CheckerCatchesMistakes(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        with open(CFGTOOL_SAMPLE, encoding="utf-8") as f:
            self.good = f.read()

    def tearDown(self):
        self.tmp.cleanup()

    def broken(self, old, new):
        """Run the checker on the good sample with old replaced by new."""
        self.assertIn(old, self.good)
        path = os.path.join(self.tmp.name, "broken.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.good.replace(old, new, 1))
        return run_checker(CFGTOOL, path)

    def assertFailsNaming(self, out, *words):
        self.assertNotEqual(out.returncode, 0, "checker accepted a broken sample")
        for word in words:
            self.assertIn(word, out.stderr)

    def test_missing_key(self):
        out = self.broken("#idle_timeout = 30m\n", "")
        self.assertFailsNaming(out, "missing key idle_timeout")

    def test_missing_list_key(self):
        out = self.broken("#listen = 127.0.0.1:2525\n#listen = [::1]:2525\n", "")
        self.assertFailsNaming(out, "missing key listen")

    def test_unknown_key_commented(self):
        out = self.broken("#tag = mr\n", "#tag = mr\n#tagline = x\n")
        self.assertFailsNaming(out, "unknown key tagline")

    def test_unknown_key_set(self):
        out = self.broken("#tag = mr\n", "#tag = mr\ntagline = x\n")
        self.assertFailsNaming(out, "unknown key tagline", "rejects", "'tagline'")

    def test_wrong_default(self):
        out = self.broken("#workers = 4\n", "#workers = 8\n")
        self.assertFailsNaming(out, "key workers", "'8'", "'4'")

    def test_wrong_list_default(self):
        out = self.broken("#listen = [::1]:2525\n", "")
        self.assertFailsNaming(out, "key listen")

    def test_bad_value(self):
        out = self.broken("#message_size_limit = 25M\n", "message_size_limit = 2X\n")
        self.assertFailsNaming(out, "message_size_limit", "bad size '2X'")

    def test_out_of_range(self):
        out = self.broken("#workers = 4\n", "workers = 65\n")
        self.assertFailsNaming(out, "workers: 65 is out of range 1..64")

    def test_changed_value_is_fine(self):
        out = self.broken("#workers = 4\n", "workers = 8\n")
        self.assertEqual(out.returncode, 0, out.stderr)


if __name__ == "__main__":
    unittest.main()
