"""Enterprise projects (万企兴万村 / 湘商回归): what an enterprise invests in which villages,
how far along it is, and the villages' confirmation of each milestone that affects them."""
