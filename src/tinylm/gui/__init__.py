"""`tinylm gui`: a Gradio web app to pick a model, train one, watch it learn, talk to it and
evaluate it. One module per tab (models_tab, train_tab, generate_tab, evaluate_tab), `jobs` for
background training, and the model engine and workspace it shares with `tinylm serve`.

Importing this package stays light (no Gradio, no torch): the detached training runner imports
`tinylm.gui.jobfile` from here."""
