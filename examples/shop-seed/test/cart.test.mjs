import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subtotalCents } from '../src/cart.mjs';

test('the subtotal adds price × quantity of every line, in cents', () => {
  assert.equal(subtotalCents([]), 0);
  assert.equal(subtotalCents([{ sku: 'MUG', unitPriceCents: 1290, quantity: 2 }, { sku: 'TEA', unitPriceCents: 2410, quantity: 1 }]), 4990);
});

test('a price or quantity that is not a non-negative integer is refused, naming the line', () => {
  assert.throws(() => subtotalCents([{ sku: 'MUG', unitPriceCents: 12.9, quantity: 1 }]), /line MUG: unitPriceCents/);
  assert.throws(() => subtotalCents([{ sku: 'TEA', unitPriceCents: 100, quantity: -1 }]), /line TEA: quantity/);
});
