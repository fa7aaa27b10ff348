"""实绩考核 of cities and counties: the province's yearly scheme (indicators, weights,
scoring rules, who scores each), a scorecard per assessed region whose computed lines are
frozen from the registry's own figures at the time of scoring, review by a second
province user, publication to the assessed region, ranking and a one-page print."""
