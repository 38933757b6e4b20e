"""The lecture's workflow around a network: the steps of "Training Neural Networks I".

The name says what these modules have in common: each is a step a practitioner takes with a
net rather than a part of one (that is :mod:`fastnn.nn`) -- prepare the data
(:mod:`~fastnn.workflow.datasets`, :mod:`~fastnn.workflow.preprocessing`), check the
initialization (:mod:`~fastnn.workflow.diagnostics`), babysit the learning process
(:mod:`~fastnn.workflow.babysit`), search the hyperparameters (:mod:`~fastnn.workflow.search`)
and report a run (:mod:`~fastnn.workflow.report`).  They build on :mod:`fastnn.nn` and never on
the command line (:mod:`fastnn.cli`), which strings them together.
"""
