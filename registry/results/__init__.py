"""Village results (帮扶实效): a village's yearly figures, filed by the village and verified."""
