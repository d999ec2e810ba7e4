;; Fused optimizer updates for the tfjs wasm backend. Each function reads a variable, its slots and its
;; gradient from tfjs-wasm's heap (the memory is imported from that backend) and writes the new values in
;; one pass, with the same f32 operations in the same order as tfjs's op-by-op rule, so the results are
;; bit for bit those of tf.train.rmsprop / adam / momentum. Pointers are byte offsets, n counts floats;
;; outputs may alias inputs. Four lanes at a time, then the tail one float at a time.
;; gradient_row computes one row of a dense layer's weight gradient for the update functions to apply.
(module
  (memory (import "env" "memory") 0)

  ;; out[0..n) = sum over b in [0, batch) of da[b] * x[b * stride .. b * stride + n), in b order, skipping
  ;; the b whose da[b] is zero (after ReLU and dropout most are): n columns of one row of dA . x, the
  ;; weight gradient of a dense layer stored [units, dim] (dA [units, batch], x [batch, dim], stride = dim).
  ;; Adding in b order gives the bits of tfjs-wasm's matMul; the nonzero terms go four per pass over out.
  (func (export "gradient_row")
    (param $da i32) (param $x i32) (param $batch i32) (param $stride i32) (param $n i32) (param $out i32)
    (local $b i32) (local $taken i32) (local $d f32) (local $row i32)
    (local $d0 f32) (local $d1 f32) (local $d2 f32) (local $r0 i32) (local $r1 i32) (local $r2 i32)
    (memory.fill (local.get $out) (i32.const 0) (i32.shl (local.get $n) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $b) (local.get $batch)))
        (local.set $d (f32.load (i32.add (local.get $da) (i32.shl (local.get $b) (i32.const 2)))))
        (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (local.get $b) (local.get $stride)) (i32.const 2))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br_if $rows (f32.eq (local.get $d) (f32.const 0)))
        (block $placed
          (if (i32.eqz (local.get $taken))
            (then (local.set $d0 (local.get $d)) (local.set $r0 (local.get $row)) (br $placed)))
          (if (i32.eq (local.get $taken) (i32.const 1))
            (then (local.set $d1 (local.get $d)) (local.set $r1 (local.get $row)) (br $placed)))
          (if (i32.eq (local.get $taken) (i32.const 2))
            (then (local.set $d2 (local.get $d)) (local.set $r2 (local.get $row)) (br $placed)))
          (call $axpy4 (local.get $out) (local.get $n)
            (local.get $d0) (local.get $r0) (local.get $d1) (local.get $r1)
            (local.get $d2) (local.get $r2) (local.get $d) (local.get $row))
          (local.set $taken (i32.const -1)))
        (local.set $taken (i32.add (local.get $taken) (i32.const 1)))
        (br $rows)))
    (if (i32.ge_u (local.get $taken) (i32.const 1))
      (then (call $axpy1 (local.get $out) (local.get $n) (local.get $d0) (local.get $r0))))
    (if (i32.ge_u (local.get $taken) (i32.const 2))
      (then (call $axpy1 (local.get $out) (local.get $n) (local.get $d1) (local.get $r1))))
    (if (i32.ge_u (local.get $taken) (i32.const 3))
      (then (call $axpy1 (local.get $out) (local.get $n) (local.get $d2) (local.get $r2)))))

  ;; out += a * x + b * y + c * z + d * w, added left to right
  (func $axpy4 (param $out i32) (param $n i32)
    (param $a f32) (param $x i32) (param $b f32) (param $y i32)
    (param $c f32) (param $z i32) (param $d f32) (param $w i32)
    (local $i i32) (local $end i32) (local $stop i32)
    (local $a4 v128) (local $b4 v128) (local $c4 v128) (local $d4 v128)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $stop (i32.shl (local.get $n) (i32.const 2)))
    (local.set $a4 (f32x4.splat (local.get $a)))
    (local.set $b4 (f32x4.splat (local.get $b)))
    (local.set $c4 (f32x4.splat (local.get $c)))
    (local.set $d4 (f32x4.splat (local.get $d)))
    (block $done
      (loop $lanes
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (f32x4.add
            (f32x4.add
              (f32x4.add
                (f32x4.add
                  (v128.load (i32.add (local.get $out) (local.get $i)))
                  (f32x4.mul (local.get $a4) (v128.load (i32.add (local.get $x) (local.get $i)))))
                (f32x4.mul (local.get $b4) (v128.load (i32.add (local.get $y) (local.get $i)))))
              (f32x4.mul (local.get $c4) (v128.load (i32.add (local.get $z) (local.get $i)))))
            (f32x4.mul (local.get $d4) (v128.load (i32.add (local.get $w) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $lanes)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $stop)))
        (f32.store (i32.add (local.get $out) (local.get $i))
          (f32.add
            (f32.add
              (f32.add
                (f32.add
                  (f32.load (i32.add (local.get $out) (local.get $i)))
                  (f32.mul (local.get $a) (f32.load (i32.add (local.get $x) (local.get $i)))))
                (f32.mul (local.get $b) (f32.load (i32.add (local.get $y) (local.get $i)))))
              (f32.mul (local.get $c) (f32.load (i32.add (local.get $z) (local.get $i)))))
            (f32.mul (local.get $d) (f32.load (i32.add (local.get $w) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))

  ;; out += a * x
  (func $axpy1 (param $out i32) (param $n i32) (param $a f32) (param $x i32)
    (local $i i32) (local $end i32) (local $stop i32) (local $a4 v128)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $stop (i32.shl (local.get $n) (i32.const 2)))
    (local.set $a4 (f32x4.splat (local.get $a)))
    (block $done
      (loop $lanes
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (f32x4.add
            (v128.load (i32.add (local.get $out) (local.get $i)))
            (f32x4.mul (local.get $a4) (v128.load (i32.add (local.get $x) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $lanes)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $stop)))
        (f32.store (i32.add (local.get $out) (local.get $i))
          (f32.add
            (f32.load (i32.add (local.get $out) (local.get $i)))
            (f32.mul (local.get $a) (f32.load (i32.add (local.get $x) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))

  ;; ms' = ms * rho + (g * g) * (1 - rho);  w' = w - (g * lr) / sqrt(ms' + eps)
  (func (export "rmsprop")
    (param $w i32) (param $ms i32) (param $g i32) (param $wOut i32) (param $msOut i32) (param $n i32)
    (param $lr f32) (param $rho f32) (param $oneMinusRho f32) (param $eps f32)
    (local $i i32) (local $end i32) (local $stop i32)
    (local $g4 v128) (local $m4 v128) (local $g1 f32) (local $m1 f32)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $stop (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $lanes
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $g4 (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m4
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $ms) (local.get $i))) (f32x4.splat (local.get $rho)))
            (f32x4.mul (f32x4.mul (local.get $g4) (local.get $g4)) (f32x4.splat (local.get $oneMinusRho)))))
        (v128.store (i32.add (local.get $msOut) (local.get $i)) (local.get $m4))
        (v128.store (i32.add (local.get $wOut) (local.get $i))
          (f32x4.sub
            (v128.load (i32.add (local.get $w) (local.get $i)))
            (f32x4.div
              (f32x4.mul (local.get $g4) (f32x4.splat (local.get $lr)))
              (f32x4.sqrt (f32x4.add (local.get $m4) (f32x4.splat (local.get $eps)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $lanes)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $stop)))
        (local.set $g1 (f32.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m1
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $ms) (local.get $i))) (local.get $rho))
            (f32.mul (f32.mul (local.get $g1) (local.get $g1)) (local.get $oneMinusRho))))
        (f32.store (i32.add (local.get $msOut) (local.get $i)) (local.get $m1))
        (f32.store (i32.add (local.get $wOut) (local.get $i))
          (f32.sub
            (f32.load (i32.add (local.get $w) (local.get $i)))
            (f32.div
              (f32.mul (local.get $g1) (local.get $lr))
              (f32.sqrt (f32.add (local.get $m1) (local.get $eps))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))

  ;; m' = m * beta1 + g * (1 - beta1);  v' = v * beta2 + (g * g) * (1 - beta2)
  ;; w' = ((m' / (1 - beta1^t)) / (sqrt(v' / (1 - beta2^t)) + eps)) * -lr + w
  (func (export "adam")
    (param $w i32) (param $m i32) (param $v i32) (param $g i32)
    (param $wOut i32) (param $mOut i32) (param $vOut i32) (param $n i32)
    (param $negLr f32) (param $beta1 f32) (param $oneMinusBeta1 f32) (param $beta2 f32)
    (param $oneMinusBeta2 f32) (param $oneMinusAccBeta1 f32) (param $oneMinusAccBeta2 f32) (param $eps f32)
    (local $i i32) (local $end i32) (local $stop i32)
    (local $g4 v128) (local $m4 v128) (local $v4 v128) (local $g1 f32) (local $m1 f32) (local $v1 f32)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $stop (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $lanes
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $g4 (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m4
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $i))) (f32x4.splat (local.get $beta1)))
            (f32x4.mul (local.get $g4) (f32x4.splat (local.get $oneMinusBeta1)))))
        (local.set $v4
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (f32x4.splat (local.get $beta2)))
            (f32x4.mul (f32x4.mul (local.get $g4) (local.get $g4)) (f32x4.splat (local.get $oneMinusBeta2)))))
        (v128.store (i32.add (local.get $mOut) (local.get $i)) (local.get $m4))
        (v128.store (i32.add (local.get $vOut) (local.get $i)) (local.get $v4))
        (v128.store (i32.add (local.get $wOut) (local.get $i))
          (f32x4.add
            (f32x4.mul
              (f32x4.div
                (f32x4.div (local.get $m4) (f32x4.splat (local.get $oneMinusAccBeta1)))
                (f32x4.add
                  (f32x4.sqrt (f32x4.div (local.get $v4) (f32x4.splat (local.get $oneMinusAccBeta2))))
                  (f32x4.splat (local.get $eps))))
              (f32x4.splat (local.get $negLr)))
            (v128.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $lanes)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $stop)))
        (local.set $g1 (f32.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m1
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $i))) (local.get $beta1))
            (f32.mul (local.get $g1) (local.get $oneMinusBeta1))))
        (local.set $v1
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $i))) (local.get $beta2))
            (f32.mul (f32.mul (local.get $g1) (local.get $g1)) (local.get $oneMinusBeta2))))
        (f32.store (i32.add (local.get $mOut) (local.get $i)) (local.get $m1))
        (f32.store (i32.add (local.get $vOut) (local.get $i)) (local.get $v1))
        (f32.store (i32.add (local.get $wOut) (local.get $i))
          (f32.add
            (f32.mul
              (f32.div
                (f32.div (local.get $m1) (local.get $oneMinusAccBeta1))
                (f32.add
                  (f32.sqrt (f32.div (local.get $v1) (local.get $oneMinusAccBeta2)))
                  (local.get $eps)))
              (local.get $negLr))
            (f32.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))

  ;; acc' = momentum * acc + g;  w' = -lr * acc' + w   (plain SGD is momentum 0 without the slot: see sgd)
  (func (export "momentum")
    (param $w i32) (param $acc i32) (param $g i32) (param $wOut i32) (param $accOut i32) (param $n i32)
    (param $negLr f32) (param $momentum f32)
    (local $i i32) (local $end i32) (local $stop i32) (local $a4 v128) (local $a1 f32)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $stop (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $lanes
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $a4
          (f32x4.add
            (f32x4.mul (f32x4.splat (local.get $momentum)) (v128.load (i32.add (local.get $acc) (local.get $i))))
            (v128.load (i32.add (local.get $g) (local.get $i)))))
        (v128.store (i32.add (local.get $accOut) (local.get $i)) (local.get $a4))
        (v128.store (i32.add (local.get $wOut) (local.get $i))
          (f32x4.add
            (f32x4.mul (f32x4.splat (local.get $negLr)) (local.get $a4))
            (v128.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $lanes)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $stop)))
        (local.set $a1
          (f32.add
            (f32.mul (local.get $momentum) (f32.load (i32.add (local.get $acc) (local.get $i))))
            (f32.load (i32.add (local.get $g) (local.get $i)))))
        (f32.store (i32.add (local.get $accOut) (local.get $i)) (local.get $a1))
        (f32.store (i32.add (local.get $wOut) (local.get $i))
          (f32.add
            (f32.mul (local.get $negLr) (local.get $a1))
            (f32.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))

  ;; w' = -lr * g + w
  (func (export "sgd")
    (param $w i32) (param $g i32) (param $wOut i32) (param $n i32) (param $negLr f32)
    (local $i i32) (local $end i32) (local $stop i32)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $stop (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $lanes
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (v128.store (i32.add (local.get $wOut) (local.get $i))
          (f32x4.add
            (f32x4.mul (f32x4.splat (local.get $negLr)) (v128.load (i32.add (local.get $g) (local.get $i))))
            (v128.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $lanes)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $stop)))
        (f32.store (i32.add (local.get $wOut) (local.get $i))
          (f32.add
            (f32.mul (local.get $negLr) (f32.load (i32.add (local.get $g) (local.get $i))))
            (f32.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail)))))
