"""The spot market and the price catalog, a platform service beside the providers:
the control loop asks it which spot instances to warn and to take (interruptions.py)
and whether a spot launch can be satisfied (launches.py); the service layer drives
it by hand (by_hand.py) and reports what clusters cost (cost_report.py, billing.py,
prices.py). It reads and writes the store and the catalog, nothing above them.

The series (series.py) is a pure function of a seed; history.py lays the prices and
capacities set by hand over it, and is what every question about a time goes
through, so the market now and the market a bill looks back on are the same one."""
