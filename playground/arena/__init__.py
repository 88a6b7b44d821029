"""The classroom arena: blind A/B battles, votes and a leaderboard (no Gradio here;
the tab is ``playground.ui.arena_tab``)."""
