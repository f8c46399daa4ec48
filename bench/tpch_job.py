"""The Spark application bench/workload.py runs: TPC-H-like data generation (`generate
SF DEST`) and queries over it (`query NAMES SOURCE`), printing each query's time.

The data follows TPC-H's schema and cardinalities (lineitem about 6 million rows per
scale factor) with values drawn by Spark's own deterministic hashes, not dbgen's
text; the queries are TPC-H's Q1, Q3, Q5, Q6 and Q10 over it.
"""

import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

QUERIES = {
    "q1": """SELECT l_returnflag, l_linestatus, SUM(l_quantity) AS sum_qty,
               SUM(l_extendedprice) AS sum_base_price,
               SUM(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
               SUM(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
               AVG(l_quantity) AS avg_qty, AVG(l_extendedprice) AS avg_price,
               AVG(l_discount) AS avg_disc, COUNT(*) AS count_order
             FROM lineitem WHERE l_shipdate <= DATE '1998-09-02'
             GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus""",
    "q3": """SELECT l_orderkey, SUM(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority
             FROM customer, orders, lineitem
             WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey
               AND o_orderdate < DATE '1995-03-15' AND l_shipdate > DATE '1995-03-15'
             GROUP BY l_orderkey, o_orderdate, o_shippriority
             ORDER BY revenue DESC, o_orderdate LIMIT 10""",
    "q5": """SELECT n_name, SUM(l_extendedprice * (1 - l_discount)) AS revenue
             FROM customer, orders, lineitem, supplier, nation, region
             WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey
               AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey
               AND r_name = 'ASIA' AND o_orderdate >= DATE '1994-01-01' AND o_orderdate < DATE '1995-01-01'
             GROUP BY n_name ORDER BY revenue DESC""",
    "q6": """SELECT SUM(l_extendedprice * l_discount) AS revenue FROM lineitem
             WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01'
               AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24""",
    "q10": """SELECT c_custkey, c_name, SUM(l_extendedprice * (1 - l_discount)) AS revenue, c_acctbal, n_name
              FROM customer, orders, lineitem, nation
              WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey
                AND o_orderdate >= DATE '1993-10-01' AND o_orderdate < DATE '1994-01-01'
                AND l_returnflag = 'R' AND c_nationkey = n_nationkey
              GROUP BY c_custkey, c_name, c_acctbal, n_name ORDER BY revenue DESC LIMIT 20""",
}
NATIONS = ["ALGERIA", "ARGENTINA", "BRAZIL", "CANADA", "EGYPT", "ETHIOPIA", "FRANCE", "GERMANY", "INDIA",
           "INDONESIA", "IRAN", "IRAQ", "JAPAN", "JORDAN", "KENYA", "MOROCCO", "MOZAMBIQUE", "PERU", "CHINA",
           "ROMANIA", "SAUDI ARABIA", "VIETNAM", "RUSSIA", "UNITED KINGDOM", "UNITED STATES"]
REGIONS = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]


def _pick(column, seed: int, values: list):
    array = F.array(*[F.lit(v) for v in values])
    return F.element_at(array, (F.abs(F.hash(column, F.lit(seed))) % len(values) + 1).cast("int"))


def _uniform(column, seed: int, low: float, high: float):
    return F.lit(low) + (F.abs(F.hash(column, F.lit(seed))) % 1_000_000) / 1_000_000 * (high - low)


def _date(column, seed: int, start: str, days: int):
    return F.date_add(F.lit(start).cast("date"), (F.abs(F.hash(column, F.lit(seed))) % days).cast("int"))


def generate(spark: SparkSession, scale: float, dest: str) -> None:
    orders_n, customers_n = int(1_500_000 * scale), int(150_000 * scale)
    suppliers_n, parts_n = int(10_000 * scale), int(200_000 * scale)
    spark.createDataFrame([(i, n, i % 5) for i, n in enumerate(NATIONS)],
                          "n_nationkey long, n_name string, n_regionkey long").write.mode("overwrite").parquet(f"{dest}/nation")
    spark.createDataFrame([(i, r) for i, r in enumerate(REGIONS)],
                          "r_regionkey long, r_name string").write.mode("overwrite").parquet(f"{dest}/region")
    key = F.col("id")
    (spark.range(1, customers_n + 1).select(
        key.alias("c_custkey"), F.concat(F.lit("Customer#"), key).alias("c_name"),
        (F.abs(F.hash(key, F.lit(1))) % 25).alias("c_nationkey"),
        _uniform(key, 2, -999.99, 9999.99).alias("c_acctbal"), _pick(key, 3, SEGMENTS).alias("c_mktsegment"))
     .write.mode("overwrite").parquet(f"{dest}/customer"))
    (spark.range(1, suppliers_n + 1).select(
        key.alias("s_suppkey"), F.concat(F.lit("Supplier#"), key).alias("s_name"),
        (F.abs(F.hash(key, F.lit(4))) % 25).alias("s_nationkey"))
     .write.mode("overwrite").parquet(f"{dest}/supplier"))
    (spark.range(1, parts_n + 1).select(key.alias("p_partkey"), F.concat(F.lit("Part#"), key).alias("p_name"))
     .write.mode("overwrite").parquet(f"{dest}/part"))
    orders = spark.range(1, orders_n + 1).select(
        key.alias("o_orderkey"), (F.abs(F.hash(key, F.lit(5))) % customers_n + 1).alias("o_custkey"),
        _date(key, 6, "1992-01-01", 2405).alias("o_orderdate"), F.lit(0).alias("o_shippriority"))
    orders.write.mode("overwrite").parquet(f"{dest}/orders")
    # Four lines per order on average (1 to 7), as TPC-H's lineitem.
    lines = (orders.select("o_orderkey", "o_orderdate",
                           F.explode(F.sequence(F.lit(1), (F.abs(F.hash("o_orderkey", F.lit(7))) % 7 + 1).cast("int")))
                           .alias("l_linenumber")))
    line_key = F.col("o_orderkey") * 8 + F.col("l_linenumber")
    quantity = (F.abs(F.hash(line_key, F.lit(8))) % 50 + 1).cast("double")
    (lines.select(
        F.col("o_orderkey").alias("l_orderkey"), F.col("l_linenumber"),
        (F.abs(F.hash(line_key, F.lit(9))) % parts_n + 1).alias("l_partkey"),
        (F.abs(F.hash(line_key, F.lit(10))) % suppliers_n + 1).alias("l_suppkey"),
        quantity.alias("l_quantity"), (quantity * _uniform(line_key, 11, 900.0, 2000.0)).alias("l_extendedprice"),
        F.round(_uniform(line_key, 12, 0.0, 0.10), 2).alias("l_discount"),
        F.round(_uniform(line_key, 13, 0.0, 0.08), 2).alias("l_tax"),
        _pick(line_key, 14, ["A", "N", "R"]).alias("l_returnflag"), _pick(line_key, 15, ["F", "O"]).alias("l_linestatus"),
        F.date_add(F.col("o_orderdate"), (F.abs(F.hash(line_key, F.lit(16))) % 121 + 1).cast("int")).alias("l_shipdate"))
     .write.mode("overwrite").parquet(f"{dest}/lineitem"))


def run_queries(spark: SparkSession, names: list[str], source: str) -> None:
    for table in ("lineitem", "orders", "customer", "supplier", "part", "nation", "region"):
        spark.read.parquet(f"{source}/{table}").createOrReplaceTempView(table)
    for name in names:
        started = time.monotonic()
        rows = spark.sql(QUERIES[name]).collect()
        print(f"QUERY {name} {time.monotonic() - started:.3f} s {len(rows)} rows", flush=True)


def main(argv: list[str]) -> int:
    spark = SparkSession.builder.appName(f"tpch-{argv[0]}").getOrCreate()
    try:
        if argv[0] == "generate":
            generate(spark, float(argv[1]), argv[2])
        else:
            run_queries(spark, argv[1].split(","), argv[2])
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
