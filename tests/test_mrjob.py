"""mrjob 0.7.4's word count through its EMR runner, with its own defaults (no config
file, no release label: it asks for emr-6.0.0, one m5.xlarge node, region us-west-2,
IAM roles it looks up and falls back from) but a quicker poll (every 2 s, not its 30:
the test spent minutes in its sleeps), pointed at elmr only through its endpoints and
the keys. mrjob creates its own bucket, uploads the job, mrjob.zip and its setup
wrapper, runs a hadoop-streaming step, streams the output back from S3, cleans up and
terminates the cluster; the counts are the word count's."""

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

pytestmark = pytest.mark.slow

MR_WORD_COUNT = '''
import re
from mrjob.job import MRJob

WORD_RE = re.compile(r"[\\w']+")


class MRWordFreqCount(MRJob):

    def mapper(self, _, line):
        for word in WORD_RE.findall(line):
            yield word.lower(), 1

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer(self, word, counts):
        yield word, sum(counts)


if __name__ == "__main__":
    MRWordFreqCount.run()
'''
TEXT = "The quick brown fox\njumps over the lazy dog.\nThe dog's day: the end\n"
RUN_DEADLINE_S = 1200  # the machine is shared


def test_mrjob_word_count_through_its_emr_runner_with_its_defaults(server, tmp_path):
    (tmp_path / "mr_word_count.py").write_text(MR_WORD_COUNT)
    (tmp_path / "input.txt").write_text(TEXT)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key_id,
           "AWS_SECRET_ACCESS_KEY": server.secret_access_key, "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "mr_word_count.py", "--no-conf", "-r", "emr", "--emr-endpoint", server.url,
         "--s3-endpoint", server.url, "--iam-endpoint", server.url, "--check-cluster-every", "2", "input.txt"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_DEADLINE_S)
    assert run.returncode == 0, run.stderr[-4000:]
    counted = {json.loads(word): int(count) for word, count in
               (line.split("\t") for line in run.stdout.splitlines())}
    assert counted == Counter(re.findall(r"[\w']+", TEXT.lower()))

    cluster_id = re.search(r"Created new cluster (j-\w+)", run.stderr).group(1)
    cluster = server.client().describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert cluster["ReleaseLabel"] == "emr-6.0.0"
    assert cluster["Status"]["State"] in ("TERMINATING", "TERMINATED")
    [step] = server.client().list_steps(ClusterId=cluster_id)["Steps"]
    assert step["Status"]["State"] == "COMPLETED"
    assert step["Config"]["Args"][0] == "hadoop-streaming"
