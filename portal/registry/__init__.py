"""The registry administrators keep: customers, sites, assets, contracts and gateways."""
