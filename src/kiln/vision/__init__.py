"""Images as kiln sees them: reading (Pillow), the feature recipe, image statistics, checks, the network,
and the fitted `ImageModel` that predicts. Sits above kiln.model (it holds a tabular Model) and below
everything that trains, saves, serves or monitors one."""
