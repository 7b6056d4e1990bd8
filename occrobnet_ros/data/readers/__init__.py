"""The real datasets' readers: InterHand2.6M, HO-3D, H2O-3D (``record.open_dataset`` picks one),
each returning ``record.Record``s; ``safe_pickle`` reads their meta pickles."""
