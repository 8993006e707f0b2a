// Shelter Signal dial: a desk box for the parts in hardware/bom.csv, printed in two parts.
//
//   openscad -D 'part="base"' -o base.stl hardware/enclosure.scad
//   openscad -D 'part="lid"' -o lid.stl hardware/enclosure.scad
//   openscad -D 'part="base"' -D wall_mount=true -o base.stl hardware/enclosure.scad
//
// Every size is a parameter in mm: measure your parts with a caliper and override what
// differs with -D name=value. x runs left to right as staff see the box, y from the
// front edge (staff side) to the back, z up. The lid carries the screen, the LED and the
// encoder; the base holds the ESP32 board, with the USB cable leaving through the back.
// The dial-face label (hardware/tools/dial_face.py) reads label_d and knob_d from here.

part = "assembly"; // "base", "lid", or "assembly" (both, lid lifted: for pictures)
wall_mount = false; // two keyhole slots in the floor, to hang the box on two screws

// Printing (a 0.4 mm nozzle)
wall = 2.4; // six perimeters: stiff without infill
floor_t = 2.4;
lid_t = 2.4; // the encoder's threaded bushing is about 5 mm: lid, washer and nut must fit
corner_r = 4; // rounded corners, outside
$fn = 48; // circle smoothness

// The box
inner_h = 38; // board on its platform, Dupont plugs on its pins, wires bent over them
gap = 6; // space around the screen and around the dial face

// ESP32-DevKitC V4 (54.4 x 27.9 mm), lying component side down on a platform so that
// the Dupont plugs go on its header pins from above
board = [28.5, 55]; // x, y with clearance; the USB end towards the back
board_platform_h = 5; // lifts the board so the USB plug clears the floor
board_rim = 1.5; // how high the locating rim stands above the platform
usb_cut = [12, 8]; // width and height: a micro-USB plug's moulded body passes through
usb_z = 2.6; // micro-USB centre above the platform (foam tape 1 + module 3.1 - 1.5)

// SSD1306 0.96" module (27.3 x 27.8 mm), glass against the lid's underside
oled_pcb = [27.5, 28];
oled_window = [25, 14]; // the active area (21.7 x 10.9 mm) and a margin
oled_window_shift = 1.5; // the active area sits this far behind the module's centre
oled_holes = [23.5, 23.8]; // M2 mounting holes, centre to centre
oled_standoff = 2.6; // post height: glass and tape thickness above the module's board

// EC11 encoder and its knob
shaft_hole_d = 7.4; // the M7 threaded bushing
knob_d = 40; // the largest knob the dial face leaves room for
label_d = 70; // the printed dial face around the knob; its centre hole fits over the bushing

led_hole_d = 5.2; // a 5 mm LED pushed in from below (a dab of hot glue holds it)

// Lid screws: M3 self-tapping into posts in the base's corners
screw_post_d = 7;
screw_pilot_d = 2.6; // pilot hole for an M3 self-tapping screw in PLA
screw_clear_d = 3.4;
screw_inset = wall + screw_post_d / 2 - 1; // posts merge 1 mm into the walls

// Wall mount: keyholes near the front edge for screws with heads up to 8 mm. The box
// hangs with its back edge (and the USB cable) uppermost, so the slots point backwards.
keyhole_head_d = 8.5;
keyhole_slot_w = 4.2;
keyhole_slot_l = 8;
keyhole_spacing = 80;

// Derived sizes: the screen and LED on the left, the dial face on the right
left_w = oled_pcb[0] + 2 * gap + 2 * screw_post_d;
right_w = label_d + 2 * gap;
outer = [left_w + right_w + 2 * wall, max(label_d, board[1] + 6) + 2 * gap + 2 * wall];
outer_h = floor_t + inner_h;
dial_centre = [outer[0] - wall - right_w / 2, outer[1] / 2];
oled_centre = [wall + left_w / 2, outer[1] / 2 + 8];
led_centre = [oled_centre[0], oled_centre[1] - oled_pcb[1] / 2 - gap - 2];
board_centre = [oled_centre[0], outer[1] - wall - 0.5 - board[1] / 2];
keyhole_y = wall + keyhole_head_d / 2 + 2;
screw_centres = [
  for (x = [screw_inset, outer[0] - screw_inset], y = [screw_inset, outer[1] - screw_inset])
    [x, y]
];

module rounded_box(size, h, r) {
  hull() for (x = [r, size[0] - r], y = [r, size[1] - r]) translate([x, y, 0]) cylinder(r = r, h = h);
}

module keyhole() {
  cylinder(d = keyhole_head_d, h = 3 * floor_t, center = true);
  translate([-keyhole_slot_w / 2, 0, -1.5 * floor_t]) cube([keyhole_slot_w, keyhole_slot_l, 3 * floor_t]);
}

module base() {
  difference() {
    union() {
      difference() {
        rounded_box(outer, outer_h, corner_r);
        translate([wall, wall, floor_t]) rounded_box(outer - [2 * wall, 2 * wall], outer_h, max(corner_r - wall, 0.5));
      }
      for (c = screw_centres) translate([c[0], c[1], 0]) cylinder(d = screw_post_d, h = outer_h);
      // the board's platform, with a rim that keeps the board in place
      translate([board_centre[0] - board[0] / 2 - board_rim, board_centre[1] - board[1] / 2 - board_rim, 0])
        cube([board[0] + 2 * board_rim, board[1] + 2 * board_rim, floor_t + board_platform_h + board_rim]);
    }
    for (c = screw_centres) translate([c[0], c[1], floor_t]) cylinder(d = screw_pilot_d, h = outer_h);
    translate([board_centre[0] - board[0] / 2, board_centre[1] - board[1] / 2, floor_t + board_platform_h])
      cube([board[0], board[1], board_rim + 1]);
    // the USB plug enters through the back wall, level with the board's socket
    translate([board_centre[0] - usb_cut[0] / 2, outer[1] - 2 * wall, floor_t + board_platform_h + usb_z - usb_cut[1] / 2])
      cube([usb_cut[0], 3 * wall, usb_cut[1]]);
    if (wall_mount)
      for (dx = [-keyhole_spacing / 2, keyhole_spacing / 2])
        translate([outer[0] / 2 + dx, keyhole_y, floor_t / 2]) keyhole();
  }
}

module lid() {
  difference() {
    rounded_box(outer, lid_t, corner_r);
    for (c = screw_centres) translate([c[0], c[1], -1]) cylinder(d = screw_clear_d, h = lid_t + 2);
    translate([dial_centre[0], dial_centre[1], -1]) cylinder(d = shaft_hole_d, h = lid_t + 2);
    // the screen window, widening upwards so the picture is not shadowed from an angle
    translate([oled_centre[0], oled_centre[1] + oled_window_shift, -0.01])
      linear_extrude(height = lid_t + 0.02, scale = [1 + 2 * lid_t / oled_window[0], 1 + 2 * lid_t / oled_window[1]])
        square(oled_window, center = true);
    translate([led_centre[0], led_centre[1], -1]) cylinder(d = led_hole_d, h = lid_t + 2);
  }
  // posts for the screen's M2 screws, under the lid
  for (sx = [-1, 1], sy = [-1, 1])
    translate([oled_centre[0] + sx * oled_holes[0] / 2, oled_centre[1] + sy * oled_holes[1] / 2, -oled_standoff])
      difference() {
        cylinder(d = 4.5, h = oled_standoff);
        translate([0, 0, -1]) cylinder(d = 1.7, h = oled_standoff + 1); // pilot for M2
      }
}

if (part == "base") base();
else if (part == "lid") translate([0, outer[1], lid_t]) rotate([180, 0, 0]) lid(); // printed face down
else if (part == "assembly") {
  lift = 25; // the lid floats above the base, to show both
  color("SteelBlue") base();
  // stand-ins for the board, the knob and the dial face, to show where they go
  color("SeaGreen") translate([board_centre[0] - 27.9 / 2, board_centre[1] - 54.4 / 2, floor_t + board_platform_h + 4.1])
    cube([27.9, 54.4, 1.6]);
  color("WhiteSmoke") translate([0, 0, outer_h + lift]) lid();
  color("Gold") translate([dial_centre[0], dial_centre[1], outer_h + lift + lid_t]) cylinder(d = label_d, h = 0.2);
  color("DimGray") translate([dial_centre[0], dial_centre[1], outer_h + lift + lid_t + 2]) cylinder(d = knob_d - 2, h = 16);
}
else assert(false, str("part must be \"base\", \"lid\" or \"assembly\", not ", part));
