"""Python data work as EMR users run it, in real steps on a real cluster, with only
what elmr's own installation brings (no test-only package on the nodes): an MLlib
pipeline trained from s3:// data, saved to s3:// and loaded by a later step; the
pandas API on Spark; pandas UDFs and toPandas() through Arrow; --py-files and
--archives with a venv-pack'ed environment from s3:// as the executors' Python."""

import io
import json
import random
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pandas
import pytest

from probe_wheel import PROBE, build_wheel
from test_steps import run_steps, s3_client, spark_step, step_log, wait_step_ended

pytestmark = pytest.mark.slow
# Training a model takes a few Spark jobs: on a loaded 2-core machine, minutes.
STEP_DEADLINE_S = 900

BUCKET = "python-jobs"

TRAIN = """
import sys
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("mllib-train").getOrCreate()
bucket = sys.argv[1]
train = spark.read.csv(f"s3://{bucket}/data/train.csv", header=True, inferSchema=True)
pipeline = Pipeline(stages=[
    StringIndexer(inputCol="colour", outputCol="colour_index"),
    OneHotEncoder(inputCols=["colour_index"], outputCols=["colour_vector"]),
    VectorAssembler(inputCols=["x", "y", "colour_vector"], outputCol="features"),
    LogisticRegression(featuresCol="features", labelCol="label", maxIter=100),
])
pipeline.fit(train).write().overwrite().save(f"s3://{bucket}/models/colour")
"""

SCORE = """
import sys
from pyspark.ml import PipelineModel
from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("mllib-score").getOrCreate()
bucket = sys.argv[1]
model = PipelineModel.load(f"s3://{bucket}/models/colour")
scored = model.transform(spark.read.csv(f"s3://{bucket}/data/test.csv", header=True, inferSchema=True))
evaluator = MulticlassClassificationEvaluator(labelCol="label", metricName="accuracy")
print("STAGES", [type(stage).__name__ for stage in model.stages])
print("ACCURACY", evaluator.evaluate(scored), scored.count())
"""

PANDAS = """
import json, sys
import pandas as pd
import pyspark.pandas as ps
from pyspark.sql import SparkSession
from pyspark.sql.functions import pandas_udf
spark = SparkSession.builder.appName("pandas").getOrCreate()
bucket = sys.argv[1]
frame = ps.read_csv(f"s3://{bucket}/data/train.csv")
means = frame.groupby("colour")["x"].mean().sort_index().to_pandas()
print("PANDAS_ON_SPARK", json.dumps(means.to_dict()))

@pandas_udf("double")
def doubled(values: pd.Series) -> pd.Series:
    return values * 2

rows = spark.read.csv(f"s3://{bucket}/data/train.csv", header=True, inferSchema=True)
local = rows.select("x", doubled("x").alias("twice")).toPandas()
print("UDF", json.dumps([len(local), bool((local["twice"] == local["x"] * 2).all())]))

def centred(group: pd.DataFrame) -> pd.DataFrame:
    return group.assign(x=group.x - group.x.mean())

centred_sums = rows.groupBy("colour").applyInPandas(centred, schema=rows.schema).toPandas()
print("CENTRED", json.dumps(bool(centred_sums.groupby("colour")["x"].sum().abs().max() < 1e-9)))
print("ARROW", spark.conf.get("spark.sql.execution.arrow.pyspark.enabled"))
"""

PACKED = f"""
import json, os, sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("packed").getOrCreate()

def where(values):
    import geometry, {PROBE}
    yield json.dumps([os.path.basename(sys.prefix), {PROBE}.VERSION, sum(geometry.area(v, 2) for v in values)])

print("EXECUTORS", json.dumps(sorted(spark.sparkContext.parallelize(range(10), 2).mapPartitions(where).collect())))
try:
    import {PROBE}
    print("DRIVER", {PROBE}.VERSION)
except ImportError:
    print("DRIVER", "no {PROBE}")
"""


def labelled_rows(count: int, seed: int) -> str:
    """CSV rows whose label a linear model can learn: x + y plus the colour's pull."""
    pull = {"red": 0.6, "green": 0.0, "blue": -0.6}
    chance = random.Random(seed)
    lines = ["x,y,colour,label"]
    for _ in range(count):
        x, y, colour = chance.uniform(-2, 2), chance.uniform(-2, 2), chance.choice(sorted(pull))
        lines.append(f"{x:.6f},{y:.6f},{colour},{int(x + y + pull[colour] > 0)}")
    return "\n".join(lines) + "\n"


def packed_environment(directory: Path) -> Path:
    """A virtual environment holding elmr_probe 7.0, packed with venv-pack, as users
    ship one to their executors."""
    venv_dir = directory / "pyspark_venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv_dir)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv_dir / "bin" / "python"), "install", "-q",
                    str(build_wheel(directory, "7.0"))], check=True)
    packed = directory / "pyspark_venv.tar.gz"
    subprocess.run([str(Path(sys.executable).parent / "venv-pack"), "-p", str(venv_dir), "-o", str(packed)],
                   check=True, capture_output=True)
    return packed


def geometry_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("geometry/__init__.py", "def area(width, height):\n    return width * height\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def cluster(server, shared_cluster, tmp_path_factory):
    """The shared cluster, and a bucket holding the data, the jobs and the packed
    environment."""
    directory = tmp_path_factory.mktemp("python-jobs")
    s3 = s3_client(server)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/train.csv", Body=labelled_rows(400, seed=1).encode())
    s3.put_object(Bucket=BUCKET, Key="data/test.csv", Body=labelled_rows(200, seed=2).encode())
    for name, code in (("train", TRAIN), ("score", SCORE), ("frames", PANDAS), ("packed", PACKED)):
        s3.put_object(Bucket=BUCKET, Key=f"jobs/{name}.py", Body=textwrap.dedent(code).encode())
    s3.put_object(Bucket=BUCKET, Key="lib/geometry.zip", Body=geometry_zip())
    s3.upload_file(str(packed_environment(directory)), BUCKET, "envs/pyspark_venv.tar.gz")
    return shared_cluster


def completed(server, cluster_id: str, step_id: str) -> str:
    step = wait_step_ended(server.client(), cluster_id, step_id, STEP_DEADLINE_S)
    assert step["Status"]["State"] == "COMPLETED", (step["Status"], step_log(server, cluster_id, step_id, "stderr")[-3000:])
    return step_log(server, cluster_id, step_id)


def printed(stdout: str, label: str):
    return stdout.split(f"{label} ", 1)[1].splitlines()[0]


def test_mllib_pipeline_trained_saved_to_s3_and_loaded_by_a_later_step(server, cluster):
    emr = server.client()
    train, score = run_steps(emr, cluster, spark_step("train", f"s3://{BUCKET}/jobs/train.py", BUCKET),
                             spark_step("score", f"s3://{BUCKET}/jobs/score.py", BUCKET))
    completed(server, cluster, train)
    keys = [o["Key"] for o in s3_client(server).list_objects_v2(Bucket=BUCKET, Prefix="models/colour/")["Contents"]]
    assert any(key.startswith("models/colour/metadata/part-00000") for key in keys), keys
    assert any(key.startswith("models/colour/stages/3_LogisticRegression") for key in keys), keys
    stdout = completed(server, cluster, score)
    assert printed(stdout, "STAGES") == str(["StringIndexerModel", "OneHotEncoderModel", "VectorAssembler",
                                             "LogisticRegressionModel"])
    accuracy, rows = printed(stdout, "ACCURACY").split()
    assert float(accuracy) > 0.9 and rows == "200"


def test_pandas_on_spark_pandas_udfs_and_to_pandas_through_arrow(server, cluster):
    emr = server.client()
    [step_id] = run_steps(emr, cluster, spark_step(
        "pandas", "--conf", "spark.sql.execution.arrow.pyspark.enabled=true",
        "--conf", "spark.sql.execution.arrow.pyspark.fallback.enabled=false",
        f"s3://{BUCKET}/jobs/frames.py", BUCKET))
    stdout = completed(server, cluster, step_id)
    expected = pandas.read_csv(io.StringIO(labelled_rows(400, seed=1))).groupby("colour")["x"].mean()
    assert json.loads(printed(stdout, "PANDAS_ON_SPARK")) == pytest.approx(expected.to_dict(), rel=1e-9)
    assert json.loads(printed(stdout, "UDF")) == [400, True]
    assert json.loads(printed(stdout, "CENTRED")) is True
    assert printed(stdout, "ARROW") == "true"


def test_py_files_and_a_packed_environment_from_s3_as_the_executors_python(server, cluster):
    """Spark's documented form: the archive unpacked as ./environment in each
    executor's directory and named as the executors' Python; the driver keeps the
    node's python3."""
    emr = server.client()
    [step_id] = run_steps(emr, cluster, spark_step(
        "packed", "--py-files", f"s3://{BUCKET}/lib/geometry.zip",
        "--archives", f"s3://{BUCKET}/envs/pyspark_venv.tar.gz#environment",
        "--conf", "spark.pyspark.driver.python=python3", "--conf", "spark.pyspark.python=./environment/bin/python",
        f"s3://{BUCKET}/jobs/packed.py"))
    stdout = completed(server, cluster, step_id)
    executors = [json.loads(line) for line in json.loads(printed(stdout, "EXECUTORS"))]
    assert executors == [["environment", "7.0", 20], ["environment", "7.0", 70]]
    assert printed(stdout, "DRIVER") == f"no {PROBE}"
