"""High Frequency Trading (seed §4.2): create_auction 100/s, place_bid 500/s,
check_market_data 1000/s over 200 users (8 operations a second each), 5 minutes.

Bids are placed asynchronously (``202``, decided by the node's bid driver), as
the seed's ``place_bid_async``.  Run alone with
``LOAD_NODES=http://127.0.0.1:8001,... locust -f locustfiles/high_frequency_trading.py --headless -u 200 -t 5m``.
"""

from workload import AuctionOps


class HighFrequencyTrading(AuctionOps):
    SEED_RATES = {"create_auction": 100, "place_bid": 500, "check_market_data": 1000}
    SEED_USERS = 200
    BID_WAIT = False
