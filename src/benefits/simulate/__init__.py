"""Fund-impact simulation (基金测算): a year of claims replayed under rule packs, member by member."""
