"""Days in the village (驻村纪实): one record per village posting and month."""
