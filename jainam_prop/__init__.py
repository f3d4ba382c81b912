"""jainam-prop: Jainam (Prop desk) XTS instrument master and symbol-to-token service."""
