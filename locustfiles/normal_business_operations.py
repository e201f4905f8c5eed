"""Normal Business Operations (seed §4.2): create_auction 10/s, place_bid 50/s,
generate_reports 1/s over 50 users, 10 minutes.

Bids wait for their outcome (``?wait=true``): a business wants to know whether
it won the lot; ``bid_too_low`` and ``auction_closed`` are outcomes, not errors.
"""

from workload import AuctionOps


class NormalBusinessOperations(AuctionOps):
    SEED_RATES = {"create_auction": 10, "place_bid": 50, "generate_reports": 1}
    SEED_USERS = 50
    BID_WAIT = True
