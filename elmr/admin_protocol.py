"""The paths of elmr's own JSON API, under the reserved /elmr/ prefix: what `elmr
spot` and `elmr cost` (and the console to come) call on the server, signed with
SigV4 and the server's root key as the EMR API is. Field names follow AWS's style.

GET  SPOT_PATH            ?InstanceType=…&AvailabilityZone=… (each repeatable): the market now
POST SPOT_PRICE_PATH      {InstanceType, AvailabilityZone, Price: "0.05" | null}
POST SPOT_CAPACITY_PATH   {InstanceType, AvailabilityZone, Capacity: 3 | null}
POST SPOT_INTERRUPT_PATH  {InstanceId} | {InstanceType, AvailabilityZone}
GET  COST_PATH            ?ClusterId=j-… (optional): cost per cluster, group, market, step
Errors come back in EMR's JSON error shape ({"__type": …, "message": …})."""

PREFIX = "/elmr/v1/"
SPOT_PATH = PREFIX + "spot"
SPOT_PRICE_PATH = PREFIX + "spot/price"
SPOT_CAPACITY_PATH = PREFIX + "spot/capacity"
SPOT_INTERRUPT_PATH = PREFIX + "spot/interrupt"
COST_PATH = PREFIX + "cost"
# The SigV4 scope clients sign with; the server checks the signature, not the name.
SIGNING_SERVICE = "elasticmapreduce"
