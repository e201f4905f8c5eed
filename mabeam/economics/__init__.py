"""Economics: accounts and transactions, auctions, market data and analytics."""
