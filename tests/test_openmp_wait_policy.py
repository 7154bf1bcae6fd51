"""hf_segan makes OpenMP's idle threads sleep (``OMP_WAIT_POLICY=PASSIVE``) unless the user chose otherwise: on
shared cores, spinning threads made two torch threads much slower than one (see ``docs/performance.md``)."""

import os
import subprocess
import sys


def policy_after_import(environment: dict[str, str]) -> str:
    code = "import hf_segan, os; print(os.environ['OMP_WAIT_POLICY'])"
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_idle_openmp_threads_sleep_unless_the_environment_says_otherwise():
    environment = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    assert policy_after_import(environment) == "PASSIVE"
    assert policy_after_import({**environment, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
