// The Stripe payment and card pages (gateway/templates/billing/cards_pay.html, cards.html): Stripe.js
// (Stripe's own, or the stand-in a localstripe serves) collects the card into a SetupIntent, then the
// form posts its id to the panel; a payment asking for 3-D Secure is finished by confirmCardPayment;
// BLIK and Przelewy24 are confirmed by Stripe.js, and the page then goes to the return address.
(function () {
  'use strict';
  var form = document.getElementById('stripe-form');
  if (!form || typeof Stripe === 'undefined') { return; }
  var stripe = Stripe(form.dataset.key);
  var status = document.getElementById('stripe-status');
  var back = form.dataset.back;

  function say(text) { if (status) { status.textContent = text; } }

  if (form.dataset.actionSecret) {  // 3-D Secure asked for by the bank
    stripe.confirmCardPayment(form.dataset.actionSecret).then(function () { window.location = back; });
    return;
  }
  if (form.dataset.intentSecret) {  // BLIK or Przelewy24
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var secret = form.dataset.intentSecret;
      var done = form.dataset.method === 'blik'
        ? stripe.confirmBlikPayment(secret, {payment_method: {blik: {}},
                                             payment_method_options: {blik: {code: form.blik_code.value}}})
        : stripe.confirmP24Payment(secret, {payment_method: {billing_details: {email: form.dataset.email || ''}},
                                            return_url: new URL(back, window.location.href).href});
      done.then(function (result) {
        if (result && result.error) { say(result.error.message || 'error'); return; }
        window.location = back;
      });
    });
    return;
  }
  var mount = document.getElementById('card-element');
  var card = null;
  if (mount && form.dataset.setupSecret) {
    card = stripe.elements().create('card');
    card.mount(mount);
  }
  form.addEventListener('submit', function (event) {
    var saved = form.querySelector('input[name=payment_method_id]:checked');
    if (saved && saved.value) { return; }  // a saved card: the form goes as it is
    event.preventDefault();
    say('…');
    stripe.confirmCardSetup(form.dataset.setupSecret, {payment_method: {card: card}}).then(function (result) {
      if (result.error) { say(result.error.message || 'error'); return; }
      form.elements.setup_intent_id.value = result.setupIntent.id;
      form.submit();
    });
  });
}());
