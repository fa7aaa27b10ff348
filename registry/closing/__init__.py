"""Closing a year (年度关账): a jurisdiction freezes the figures of a year, and reopens
them only for named kinds of data, by request and approval, until a deadline."""
