"""Accounts of the cadres themselves (驻村干部): opened by whoever manages the person with
a one-time activation code, activated by the cadre, who then sees only their own
postings, training, days in the village and grades (issue 14)."""
